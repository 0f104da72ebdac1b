"""The pyramid-pooling family's building blocks: modules (:mod:`.modules`), the registry of
head specs (:mod:`.registry`) and FLOP models (:mod:`.costs`). :mod:`spp_viz.family` compares
them on a real map. Nothing is imported here, so ``spp_viz.heads`` costs nothing until used."""
