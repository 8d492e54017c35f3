"""simulations: self-consuming loops that really train models (THEORY.md §1, §5, §6).

Thin until its issue lands. It will take a ``device`` everywhere and may import
boundkit to overlay bounds; boundkit never imports it.
"""
