"""The error contract of boundkit, simulations and proofs.

* :class:`InvalidArgument` (a ``ValueError``): an argument was refused *before any
  work*. The message names the argument, the value received and the fix. The CLI
  turns exactly this (and click's usage errors) into exit code 2 and one line.
* ``TypeError``: an argument of the wrong kind (a string where a schedule is meant).
* :class:`NotCertified` (an ``ArithmeticError``): a computation finished but its
  answer could not be certified; the message says what is known.

Anything else escaping a public function is a bug; the CLI reports it as such
(exit code 1) and ``--debug`` shows the traceback.
"""

from __future__ import annotations


class InvalidArgument(ValueError):
    """An argument was refused before any work; the message says which, why and the fix.

    Parameters
    ----------
    message : the whole sentence: argument, value received, and what to pass instead.
    argument : the Python name of the argument (``"alpha"``), so that a front end can
        restate the message with its own spelling (``--alpha``).
    """

    def __init__(self, message: str, *, argument: str | None = None):
        super().__init__(message)
        self.argument = argument


class NotCertified(ArithmeticError):
    """A numeric answer exists but could not be certified in ball arithmetic.

    Raised instead of returning a number that might be wrong; the message says what was
    tried and what to do (a larger precision, another route).

    Attributes
    ----------
    args : tuple
        The message.
    """
