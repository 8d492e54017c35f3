"""proofs: machine-checked derivations of R1–R7 (THEORY.md §2–4).

Thin until its issue lands: the certificate layer will re-check boundkit's
results by independent routes.
"""
