"""Explanation maps (Grad-RAM, guided backprop, occlusion) over the predicted tiles."""
