"""The verdict log as a Merkle tree (RFC 9162 §2.1): hashing, checkpoints, proofs.

Pure code: no store, no I/O. The store keeps the tree's nodes; these modules
say what they must be and how a verifier with only the public key checks them.
"""
