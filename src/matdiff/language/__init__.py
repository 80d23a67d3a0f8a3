"""The input language: the lark grammar, the syntax tree it builds, and shape specifications.

Imports nothing else from matdiff but the errors and limits: everything downstream reads its trees.
"""
