"""asv benchmark suite for fastbp (asv.conf.json at the repository root)."""
