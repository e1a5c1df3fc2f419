"""Training on the lab's own electrodes: the wizard (data set, review, settings, live
training in a separate process, registration) behind Models ▸ Train on Your Electrodes…"""
