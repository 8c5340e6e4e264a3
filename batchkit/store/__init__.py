"""Low-memory output: write each batch to disk as it finishes, read the result back later.

A run over many batches need not hold its results in memory: a `BatchWriter` stores
every batch it is given as one file in an output directory and then forgets it, so memory stays
flat however many batches run. `read_output` loads the whole result back (concatenated per
component), `iter_output` walks it one part at a time, `output_info` describes it.

Layout of an output directory::

    manifest.json        what was written: run id, components, counts, times (JSON)
    part-000000.npz      the first batch written: ``indices`` and ``component.<name>`` arrays
    part-000001.npz      the second one, and so on

Every file is written to a temporary file in the same directory and moved into place with
`replace`, so a crash leaves either the old file or the new one, never half of one. The
manifest is rewritten after each part and is the single source of truth: a part that is not
counted there (its writer died before recording it) is ignored, and so are leftover temporary
files. The manifest keeps counts, not per-part lists, so it does not grow with the run.

An output belongs to one run (its ``run_id``): appending is allowed only to resume that same
run, so that the results of two different runs can never be mixed in one output.

Resuming a run after a crash (a pipeline's ``journal``, see `batchkit._journal`) may find parts
that the manifest counts but the journal does not: written just before the crash, and about to
be written again. `BatchWriter.state` is the manifest's counts after a part, which the journal
records; `BatchWriter.roll_back` puts the manifest back to such a state (atomically, like every
manifest write) and deletes the parts after it, so that no batch is in the output twice. With
``fsync=True`` a part, the manifest and the directory entries are on the disk before `write`
returns, so that what a journal then records survives a crash of the machine too.

The package's modules: ``_format`` (file names, manifest keys, atomic writes, how a component
becomes an array in a part), ``_writer`` (`BatchWriter`), ``_readers`` (`output_info`,
`iter_output`, `read_output`).
"""

# the format's constants and the writer's modes, public names of this module before it was a package
from ._format import FORMAT as FORMAT
from ._format import MANIFEST as MANIFEST
from ._format import VERSION as VERSION
from ._readers import iter_output, output_info, read_output
from ._writer import MODES as MODES
from ._writer import BatchWriter

__all__ = ["BatchWriter", "iter_output", "output_info", "read_output"]
