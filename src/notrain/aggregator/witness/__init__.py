"""Witnessing (spec/log.md, "Witnesses"), both ways round: :mod:`.role` cosigns other logs' checkpoints
(C2SP tlog-witness ``add-checkpoint``, served by :mod:`.routes`), :mod:`.collector` asks this log's
witnesses to cosign its own.  What a witness decides is pure code in :mod:`notrain.core.witnessing`."""
