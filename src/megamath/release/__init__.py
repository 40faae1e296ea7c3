"""The release: a corpus's shards turned into what a training run reads (tokenized datasets)."""
