"""Synthetic recorded sessions bundled with Vigil (see README.md here); a package so installs carry them."""
