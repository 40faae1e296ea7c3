"""MegaMath-Code: math-related source code, recalled from every file by a small model (being built:
reading trees and archives, the code-aware normalization with math imports, training, recall and
evaluation on labelled files so far)."""
