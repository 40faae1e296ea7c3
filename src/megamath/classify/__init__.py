"""The fastText math classifier: preprocessing, training, evaluation, seed collection, and the pipeline stage."""
