"""Training the rate-capability CNN (paper 1, §2.6): optimiser, schedule, augmentation,
data sets and folds, the resumable training loop, cross-validation and DDP.

Submodules: :mod:`~core.train.optim` (Lookahead around RAdam, MAPE),
:mod:`~core.train.schedule` (warm-up + cosine decay), :mod:`~core.train.augment`
(shift/rotation with mirror fill), :mod:`~core.train.data` (in-memory tile sets, the lab
folder + CSV reader, group-wise folds), :mod:`~core.train.loop` (one model, early
stopping, checkpoints), :mod:`~core.train.cv` (k-fold ensembles written to disk) and
:mod:`~core.train.ddp` (DistributedDataParallel helpers). Imports torch.
"""
