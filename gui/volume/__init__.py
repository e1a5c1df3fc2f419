"""The 3D workspace: tomography volumes beside their CAE reconstruction."""
