"""What the generator, the verifier and simcluster share: errors and exit codes, the CLI kit,
versions, the plan model and its stage trailers, the strict YAML loader and the git boundary.

`core` imports none of the three packages; each of them may import `core`.
"""
