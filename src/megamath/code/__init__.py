"""MegaMath-Code: math-related source code, recalled from every file by a small model (being built:
the reader of source trees and archives, the code-aware normalization and the math-import rule so far)."""
