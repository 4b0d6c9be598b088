"""Exceptions: one class per sc_status code, all under SelfCompressError.

A failed library call raises the class of its status code, carrying the
library's message (``sc_last_error()``). Bad Python arguments (wrong types,
values out of range) raise ``TypeError`` or ``ValueError`` before any call
into the library.
"""

from __future__ import annotations

from typing import Dict, Type


class SelfCompressError(Exception):
    """A failed library call.

    Attributes: ``code`` (the sc_status value), ``status`` (its name, e.g.
    ``"SC_ERR_ARG"``), ``message`` (the library's message) and ``call`` (the
    C function that failed).
    """

    #: the sc_status value of this class (0 for the base class)
    code: int = 0
    #: the sc_status name of this class
    status: str = "SC_ERR"

    def __init__(self, message: str, call: str = "") -> None:
        self.message = message
        self.call = call
        prefix = call + ": " if call else ""
        super().__init__("%s%s: %s" % (prefix, self.status, message))


class NullPointerError(SelfCompressError):
    """SC_ERR_NULL: a required pointer argument was NULL."""

    code = 1
    status = "SC_ERR_NULL"


class InvalidArgumentError(SelfCompressError):
    """SC_ERR_ARG: an argument is out of its valid range."""

    code = 2
    status = "SC_ERR_ARG"


class ShapeError(SelfCompressError):
    """SC_ERR_SHAPE: tensor or layer shapes do not fit."""

    code = 3
    status = "SC_ERR_SHAPE"


class OutOfMemoryError(SelfCompressError):
    """SC_ERR_NOMEM: an allocation failed."""

    code = 4
    status = "SC_ERR_NOMEM"


class NonFiniteError(SelfCompressError):
    """SC_ERR_NONFINITE: input data holds NaN or Inf."""

    code = 5
    status = "SC_ERR_NONFINITE"


class LabelError(SelfCompressError):
    """SC_ERR_LABEL: a label is outside [0, classes)."""

    code = 6
    status = "SC_ERR_LABEL"


class StateError(SelfCompressError):
    """SC_ERR_STATE: the call is not valid in the object's state."""

    code = 7
    status = "SC_ERR_STATE"


class FileIOError(SelfCompressError):
    """SC_ERR_IO: reading or writing a file failed."""

    code = 8
    status = "SC_ERR_IO"


class FormatError(SelfCompressError):
    """SC_ERR_FORMAT: a file is truncated, corrupt or not of the kind read."""

    code = 9
    status = "SC_ERR_FORMAT"


class DivergedError(SelfCompressError):
    """SC_ERR_DIVERGED: training produced NaN/Inf; nothing changed."""

    code = 10
    status = "SC_ERR_DIVERGED"


class UnsupportedError(SelfCompressError):
    """SC_ERR_UNSUPPORTED: a valid request this build cannot do."""

    code = 11
    status = "SC_ERR_UNSUPPORTED"


class HostError(SelfCompressError):
    """SC_ERR_HOST: the host's reduction hook reported failure."""

    code = 12
    status = "SC_ERR_HOST"


class VersionError(SelfCompressError):
    """The loaded library's version does not fit this package."""

    status = "SC_VERSION"


#: sc_status value -> the exception class raised for it
ERRORS: Dict[int, Type[SelfCompressError]] = {
    cls.code: cls
    for cls in (NullPointerError, InvalidArgumentError, ShapeError,
                OutOfMemoryError, NonFiniteError, LabelError, StateError,
                FileIOError, FormatError, DivergedError, UnsupportedError,
                HostError)
}


def error_for(code: int, message: str, call: str = "") -> SelfCompressError:
    """The exception for status ``code`` (SelfCompressError for a code this
    package does not know)."""
    cls = ERRORS.get(code)
    if cls is None:
        err = SelfCompressError(message, call)
        err.code = code
        err.status = "SC_ERR_%d" % code
        return err
    return cls(message, call)
