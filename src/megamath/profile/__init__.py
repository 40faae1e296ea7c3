"""What a phase wrote, profiled as it is written: token counts with a real LLM tokenizer (``meta.tokens``)
and the distributions the report draws, summed in the stage's counters so that the report adds up
per-task statistics instead of reading the corpus again."""
