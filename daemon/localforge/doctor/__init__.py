"""`lfd doctor` / `lfctl doctor`: one command to run when something is wrong.

Each module checks one group of things and returns ``Check`` lines (ok / warn /
fail, each failure with its fix): ``system`` (CPU features, the llama.cpp build,
GPUs, disk), ``files`` (config, socket directory, embedding model), ``memory``
(a Qdrant server) and ``models`` (a few tokens from every local model in
throwaway workers, in normal and in safe mode). ``run`` puts them together. No
daemon is needed, and a running one is left alone.
"""
