"""Seeded synthetic data with ground truth: MosaiX cross-sections (``mosaic``) and
three-phase tomography volumes (``volume``). Honestly labelled as synthetic wherever used."""
