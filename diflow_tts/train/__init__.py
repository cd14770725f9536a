"""Training infrastructure shared by every model the toolkit trains (codec, teacher, students).

`distributed` sets up torchrun process groups, `checkpoint` writes and finds atomic checkpoints,
`sampler` gives a resumable, rank-sharded order of examples, `monitor` logs to TensorBoard and a
progress bar, and `loop` ties them into one step loop that any `TrainTask` plugs into.
"""
