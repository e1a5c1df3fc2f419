"""Neural networks: the rate-capability CNN (paper 1) and the 3D CAE (paper 2). Imports torch."""
