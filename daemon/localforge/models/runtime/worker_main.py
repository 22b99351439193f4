"""The model worker process: one llama.cpp model, driven by msgpack frames on stdin/stdout.

Started by the daemon as ``python -m localforge.models.runtime.worker_main``. The
protocol channel is the original stdout; file descriptor 1 is then pointed at
stderr so that anything native code prints cannot corrupt a frame. The main
thread reads requests; a generation runs on its own thread so ``cancel`` and
``stats`` are answered while tokens stream. End of stdin (the daemon went away)
ends the process.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from pathlib import Path
from typing import IO, Any

from localforge.models.runtime.protocol import ProtocolError, pack, read_frame_sync

log = logging.getLogger("localforge.worker")


class LoadFailure(Exception):
    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message


def check_gguf(path: Path) -> dict[str, Any]:
    """Reject missing, non-GGUF, corrupt and truncated files before llama.cpp sees them."""
    from localforge.errors import ModelError
    from localforge.models.gguf.info import read_gguf_info

    try:
        info = read_gguf_info(path)
    except ModelError as exc:  # the message names the cause and the fix
        raise LoadFailure("invalid_file", exc.message) from exc
    return {"file_bytes": path.stat().st_size, "architecture": info.architecture}


class Worker:
    def __init__(self, inp: IO[bytes], out: IO[bytes]) -> None:
        self.inp = inp
        self.out = out
        self.write_lock = threading.Lock()
        self.llm: Any = None
        self.model_path: str | None = None
        self.busy_id: Any = None
        self.cancelled: set[Any] = set()
        self.generations = 0
        self.thread: threading.Thread | None = None

    def send(self, message: dict[str, Any]) -> None:
        frame = pack(message)
        with self.write_lock:
            self.out.write(frame)
            self.out.flush()

    def run(self) -> None:
        while True:
            try:
                message = read_frame_sync(self.inp)
            except ProtocolError as exc:
                log.error("protocol error from the daemon: %s", exc)
                return
            if message is None:
                return
            op = message.get("op")
            try:
                if op == "load":
                    self.load(message)
                elif op == "generate":
                    self.start_generation(message)
                elif op == "cancel":
                    self.cancelled.add(message.get("id"))
                elif op == "stats":
                    self.send({"op": "stats", **self.stats()})
                elif op == "unload":
                    self.unload()
                    self.send({"op": "unloaded"})
                    return
                else:
                    self.send({"op": "error", "kind": "protocol", "message": f"unknown op {op!r}"})
            except Exception as exc:
                log.exception("error handling %s", op)
                self.send(
                    {
                        "op": "error",
                        "id": message.get("id"),
                        "kind": "internal",
                        "message": str(exc),
                    }
                )

    # --- load -------------------------------------------------------------

    def load(self, message: dict[str, Any]) -> None:
        path = Path(message["path"])
        started = time.perf_counter()
        try:
            if message.get("checked"):
                facts = {"file_bytes": path.stat().st_size}
            else:
                facts = check_gguf(path)
            self.llm = self._construct(message)
        except LoadFailure as exc:
            self.send({"op": "error", "kind": exc.kind, "message": exc.message})
            return
        except (ValueError, RuntimeError, OSError) as exc:
            self.send(
                {
                    "op": "error",
                    "kind": "load_failed",
                    "message": f"llama.cpp could not load {path}: {exc}",
                }
            )
            return
        self.model_path = str(path)
        metadata = dict(getattr(self.llm, "metadata", {}) or {})
        self.send(
            {
                "op": "loaded",
                "load_ms": (time.perf_counter() - started) * 1000,
                "n_ctx": int(self.llm.n_ctx()),
                "has_chat_template": "tokenizer.chat_template" in metadata,
                "rss_bytes": _rss_bytes(),
                **facts,
            }
        )

    def _construct(self, message: dict[str, Any]) -> Any:
        import llama_cpp
        import llama_cpp.llama_cpp as low

        last = [-1.0]

        def on_progress(progress: float, _user: Any) -> bool:
            if progress - last[0] >= 0.05 or progress >= 1.0:
                last[0] = progress
                self.send({"op": "progress", "progress": float(progress)})
            return True

        callback = low.llama_progress_callback(on_progress)
        original = low.llama_model_default_params

        def params_with_progress() -> Any:
            params = original()
            params.progress_callback = callback
            return params

        low.llama_model_default_params = params_with_progress
        try:
            kwargs: dict[str, Any] = {
                "model_path": message["path"],
                "n_ctx": int(message.get("n_ctx", 4096)),
                "n_gpu_layers": int(message.get("n_gpu_layers", -1)),
                "verbose": False,
            }
            if message.get("main_gpu") is not None:
                kwargs["main_gpu"] = int(message["main_gpu"])
                kwargs["split_mode"] = llama_cpp.LLAMA_SPLIT_MODE_NONE
            if message.get("n_threads"):
                kwargs["n_threads"] = int(message["n_threads"])
            if message.get("chat_format"):
                kwargs["chat_format"] = message["chat_format"]
            return llama_cpp.Llama(**kwargs)
        finally:
            low.llama_model_default_params = original

    def unload(self) -> None:
        if self.thread is not None:
            self.cancelled.add(self.busy_id)
            self.thread.join(timeout=10)
        if self.llm is not None:
            self.llm.close()
            self.llm = None

    # --- generate ---------------------------------------------------------

    def start_generation(self, message: dict[str, Any]) -> None:
        rid = message.get("id")
        if self.llm is None:
            self.send(
                {"op": "error", "id": rid, "kind": "not_loaded", "message": "no model is loaded"}
            )
            return
        if self.busy_id is not None:
            self.send(
                {"op": "error", "id": rid, "kind": "busy", "message": "a generation is running"}
            )
            return
        self.busy_id = rid
        self.thread = threading.Thread(target=self._generate, args=(message,), daemon=True)
        self.thread.start()

    def _generate(self, message: dict[str, Any]) -> None:
        rid = message.get("id")
        try:
            reply = {"op": "done", "id": rid, **self._run_generation(message)}
        except Exception as exc:
            log.exception("generation %s failed", rid)
            reply = {"op": "error", "id": rid, "kind": "generate_failed", "message": str(exc)}
        # Free the slot before answering, so the daemon never sees a finished-but-busy worker.
        self.cancelled.discard(rid)
        self.generations += 1
        self.thread = None
        self.busy_id = None
        self.send(reply)

    def _run_generation(self, message: dict[str, Any]) -> dict[str, Any]:
        rid = message.get("id")
        options: dict[str, Any] = {
            "max_tokens": int(message.get("max_tokens", 256)),
            "temperature": float(message.get("temperature", 0.7)),
            "stop": list(message.get("stop") or []),
            "stream": True,
        }
        if options["temperature"] <= 0:
            options["top_k"] = 1
        if message.get("fresh"):
            self.llm.reset()  # no cached prefix: bit-identical to a freshly loaded model
        started = time.perf_counter()
        first: float | None = None
        pieces: list[str] = []
        finish = "stop"
        chunks = 0
        if message.get("kind") == "chat":
            stream = self.llm.create_chat_completion(messages=message["messages"], **options)
        else:
            stream = self.llm.create_completion(prompt=message["prompt"], **options)
        for chunk in stream:
            if rid in self.cancelled:
                finish = "cancelled"
                stream.close()
                break
            choice = chunk["choices"][0]
            text = (
                choice.get("text")
                if "text" in choice
                else (choice.get("delta") or {}).get("content")
            )
            if choice.get("finish_reason"):
                finish = choice["finish_reason"]
            if not text:
                continue
            chunks += 1
            if first is None:
                first = time.perf_counter()
            pieces.append(text)
            self.send({"op": "token", "id": rid, "text": text})
        total = time.perf_counter() - started
        text = "".join(pieces)
        completion_tokens = (
            len(self.llm.tokenize(text.encode(), add_bos=False, special=True)) if text else 0
        )
        prompt_tokens = max(int(self.llm.n_tokens) - completion_tokens, 0)
        return {
            "text": text,
            "finish_reason": finish,
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "ttft_ms": ((first or time.perf_counter()) - started) * 1000,
            "total_ms": total * 1000,
        }

    def stats(self) -> dict[str, Any]:
        return {
            "pid": os.getpid(),
            "model_path": self.model_path,
            "busy": self.busy_id is not None,
            "generations": self.generations,
            "rss_bytes": _rss_bytes(),
        }


def _rss_bytes() -> int:
    try:
        with open("/proc/self/statm") as handle:
            return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def main() -> int:
    logging.basicConfig(
        level=os.environ.get("LOCALFORGE_WORKER_LOG_LEVEL", "INFO"),
        format="%(asctime)s %(levelname)s worker[%(process)d] %(message)s",
        stream=sys.stderr,
    )
    protocol_out = os.fdopen(os.dup(1), "wb", buffering=0)
    os.dup2(2, 1)  # stray native prints land in the log, never in a frame
    sys.stdout = sys.stderr
    inp = os.fdopen(os.dup(0), "rb", buffering=0)
    import llama_cpp  # noqa: F401  (imported now, so a spare worker is ready to load at once)

    Worker(inp, protocol_out).run()
    os._exit(0)


if __name__ == "__main__":
    sys.exit(main())
