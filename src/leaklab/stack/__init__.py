"""The native stack: real servers as local processes on 127.0.0.1, in a run directory."""

from leaklab.stack.native import NativeStack
from leaklab.stack.process import StackError

__all__ = ["NativeStack", "StackError"]
