"""llama.cpp itself, as built by scripts/llama-cpp.sh from the pinned llama-cpp-python source
package: its own ctypes bindings (llama_cpp.llama_cpp) over libllama.so. Loads a GGUF and gives
token ids, logits and pooled embeddings as llama.cpp computes them."""
import ctypes
import importlib
import os
import subprocess
import sys
import types
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
_lib = None


def directory():
    """The llama.cpp build (made or reused by scripts/llama-cpp.sh): python/, lib/, bin/."""
    if not os.environ.get("QS_LLAMA_CPP"):
        os.environ["QS_LLAMA_CPP"] = subprocess.run(
            [str(ROOT / "scripts" / "llama-cpp.sh")], check=True, capture_output=True, text=True).stdout.strip()
    return Path(os.environ["QS_LLAMA_CPP"])


def library():
    """The bindings, loaded once."""
    global _lib
    if _lib is None:
        directory = globals()["directory"]()
        os.environ["LLAMA_CPP_LIB_PATH"] = str(Path(directory) / "lib")
        # The package's __init__ pulls in the high-level API (jinja2 ...); only the C bindings are needed.
        package = types.ModuleType("llama_cpp")
        package.__path__ = [str(Path(directory) / "python" / "llama_cpp")]
        sys.modules["llama_cpp"] = package
        _lib = importlib.import_module("llama_cpp.llama_cpp")
        _lib.llama_log_set(_silence, None)
        _lib.llama_backend_init()
    return _lib


@ctypes.CFUNCTYPE(None, ctypes.c_int, ctypes.c_char_p, ctypes.c_void_p)
def _silence(level, text, user_data):
    if os.environ.get("QS_LLAMA_VERBOSE"):
        sys.stderr.write(text.decode("utf-8", "replace"))


class Model:
    """A GGUF loaded by llama.cpp (raises if llama.cpp refuses it)."""

    def __init__(self, path):
        lib = library()
        self.lib = lib
        self.model = lib.llama_model_load_from_file(str(path).encode(), lib.llama_model_default_params())
        if not self.model:
            raise RuntimeError(f"llama.cpp could not load {path} (QS_LLAMA_VERBOSE=1 shows why)")
        self.vocab = lib.llama_model_get_vocab(self.model)

    def close(self):
        self.lib.llama_model_free(self.model)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def tokenize(self, text, add_special=False):
        data = text.encode("utf-8")
        buffer = (self.lib.llama_token * (len(data) + 16))()
        count = self.lib.llama_tokenize(self.vocab, data, len(data), buffer, len(buffer), add_special, True)
        assert count >= 0, f"llama_tokenize failed ({count})"
        return list(buffer[:count])

    def _context(self, tokens, embeddings):
        lib = self.lib
        params = lib.llama_context_default_params()
        params.n_ctx = params.n_batch = params.n_ubatch = max(64, len(tokens))
        params.n_threads = params.n_threads_batch = 2
        params.embeddings = embeddings
        context = lib.llama_init_from_model(self.model, params)
        assert context, "llama_init_from_model failed"
        batch = lib.llama_batch_init(len(tokens), 0, 1)
        for i, token in enumerate(tokens):
            batch.token[i], batch.pos[i], batch.n_seq_id[i] = token, i, 1
            batch.seq_id[i][0] = 0
            batch.logits[i] = True
        batch.n_tokens = len(tokens)
        status = lib.llama_decode(context, batch)
        lib.llama_batch_free(batch)
        assert status == 0, f"llama_decode returned {status}"
        return context

    def logits(self, tokens):
        """[len(tokens), n_vocab] float32 logits, one row per position."""
        lib = self.lib
        context = self._context(tokens, embeddings=False)
        n_vocab = lib.llama_vocab_n_tokens(self.vocab)
        rows = [np.ctypeslib.as_array(lib.llama_get_logits_ith(context, i), shape=(n_vocab,)).copy() for i in range(len(tokens))]
        lib.llama_free(context)
        return np.stack(rows)

    def embedding(self, tokens):
        """The sequence's pooled embedding (the GGUF's pooling type)."""
        lib = self.lib
        context = self._context(tokens, embeddings=True)
        values = np.ctypeslib.as_array(lib.llama_get_embeddings_seq(context, 0), shape=(lib.llama_model_n_embd(self.model),)).copy()
        lib.llama_free(context)
        return values
