"""Where stages are assembled into phases, phases into workflows, and workflows into the recipe.

Stage packages (``web``, ``classify``, ``dedup``, ``decontam``, ``llm``) hold stages and the jobs of
their passes; this package decides what runs after what, into which folder, and how results are
handed from one phase to the next. Everything here runs on any executor of the runtime.

- ``web``: stage 1 (with decontamination and dedup when asked), stage 2.
- ``dedup``: sign → band edges → components → filter.
- ``decontam``: the benchmark index, then the filter.
- ``classify``: applying a classifier, training one (a global step), round 2 of the seeds.
- ``labelling``: sample per crawl → label with an LLM → read back (round 2 and Web-Pro share it).
- ``webpro``: score, threshold by crawl year, refine; optionally scores from a model trained on a sample.
- ``recipe``: the whole web recipe from one TOML file.
"""
