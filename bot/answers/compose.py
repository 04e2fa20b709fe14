"""Turns ranked passages into an answer made only of the library's own sentences.

The bot never writes prose of its own: it picks the sentences that best cover the question,
quotes them word for word, and cites each. Whether the library answers at all is judged by
how much of the question's meaning the best passage covers, not by a raw BM25 score, which
is zero or negative for common terms in a small library.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bot.answers import kinds
from bot.answers.model import Answer, Citation, RetrievedPassage, SectionPointer
from bot.library.catalogue import DocumentInfo
from bot.library.segmentation import Passage
from bot.retrieval.retriever import Hit, Retriever
from bot.retrieval.specificity import specificity

# Minimum share of the question's weight the best passage must cover, by strictness.
# Calibrated on the development questions: "normal" declines most unanswerable questions
# while rarely declining one the library answers (see README, "Choices and numbers").
COVERAGE_THRESHOLDS = {"lenient": 0.2, "normal": 0.3, "strict": 0.45}

# How a sentence's score is made (calibrated on the development questions): the share of the
# question it covers, plus credit for question terms in its section heading and the sentence
# before it (which it often continues), its passage's BM25 score, holding the kind of thing
# asked for (a number, a date, a name), and a small preference for higher-ranked passages.
_WEIGHT_SECTION = 0.15
_WEIGHT_PREVIOUS = 0.35
_WEIGHT_PASSAGE = 0.35
_WEIGHT_KIND = 0.15
_WEIGHT_RANK = 0.02


@dataclass(frozen=True)
class ComposeOptions:
    max_sentences: int = 2
    strictness: str = "normal"
    closest_sections: int = 3


@dataclass(frozen=True)
class _Candidate:
    hit: Hit
    index: int  # sentence index within the passage
    sentence: str
    score: float


def _runs(chosen: Sequence[_Candidate]) -> list[list[_Candidate]]:
    """Consecutive sentences of one passage, cited once: one quote, one source line."""
    runs: list[list[_Candidate]] = []
    for candidate in chosen:
        last = runs[-1][-1] if runs else None
        if (
            last is not None
            and last.hit.passage.id == candidate.hit.passage.id
            and candidate.index == last.index + 1
        ):
            runs[-1].append(candidate)
        else:
            runs.append([candidate])
    return runs


class Composer:
    """Chooses the sentences that answer a question and decides when to decline."""

    def __init__(self, retriever: Retriever, documents: dict[str, DocumentInfo]) -> None:
        self._retriever = retriever
        self._documents = documents

    def _weights(self, question: str) -> dict[str, float]:
        """Each question term's weight: rare in the library and rare in English counts most.

        Library rarity alone over-weights everyday words the texts happen not to use
        ("wrote", "gave"), which people put in questions but which carry little of the meaning.
        """
        weights: dict[str, float] = {}
        for word, term in self._retriever.query_pairs(question):
            if term not in weights:
                weights[term] = self._retriever.weight(term) * specificity(word)
        return weights

    def coverage(self, weights: dict[str, float], terms: set[str]) -> float:
        total = sum(weights.values())
        if total <= 0:
            return 0.0
        return sum(w for t, w in weights.items() if t in terms) / total

    def _passage_terms(self, passage: Passage) -> set[str]:
        info = self._documents[passage.doc_id]
        text = " ".join([passage.text, passage.section, info.title, info.author])
        return set(self._retriever.tokenizer(text))

    def compose(self, question: str, hits: Sequence[Hit], options: ComposeOptions) -> Answer:
        weights = self._weights(question)
        passages = [self._retrieved(h) for h in hits]
        if not hits or not weights:
            return self._decline(question, hits, passages, options.closest_sections)
        best_coverage = max(
            self.coverage(weights, self._passage_terms(h.passage)) for h in hits[:3]
        )
        threshold = COVERAGE_THRESHOLDS.get(options.strictness, COVERAGE_THRESHOLDS["normal"])
        if best_coverage < threshold:
            return self._decline(question, hits, passages, options.closest_sections)
        chosen = self._choose(question, weights, hits, options.max_sentences)
        if not chosen or not kinds.satisfied(question, (c.sentence for c in chosen)):
            return self._decline(question, hits, passages, options.closest_sections)
        citations: list[Citation] = []
        parts: list[str] = []
        for marker, run in enumerate(_runs(chosen), start=1):
            passage = run[0].hit.passage
            info = self._documents[passage.doc_id]
            quote = " ".join(c.sentence for c in run)
            citations.append(
                Citation(
                    marker=marker,
                    passage_id=passage.id,
                    doc_id=passage.doc_id,
                    title=info.title,
                    author=info.author,
                    section=passage.section,
                    quote=quote,
                    caveat=info.satire,
                )
            )
            parts.append(f"{quote} [{marker}]")
        return Answer(
            question=question,
            answered=True,
            text=" ".join(parts),
            citations=citations,
            passages=passages,
        )

    def _choose(
        self, question: str, weights: dict[str, float], hits: Sequence[Hit], limit: int
    ) -> list[_Candidate]:
        kind = kinds.question_kind(question)
        tokenizer = self._retriever.tokenizer
        top_score = max(h.score for h in hits) or 1.0
        total = sum(weights.values()) or 1.0
        candidates: list[_Candidate] = []
        for hit in hits:
            context = set(tokenizer(hit.passage.section))
            sentence_terms = [set(tokenizer(s)) for s in hit.passage.sentences]
            for index, sentence in enumerate(hit.passage.sentences):
                terms = sentence_terms[index]
                covered = sum(w for t, w in weights.items() if t in terms) / total
                if covered == 0:
                    continue
                near = sum(w for t, w in weights.items() if t in context and t not in terms)
                before = sentence_terms[index - 1] if index > 0 else set()
                prev = sum(w for t, w in weights.items() if t in before and t not in terms)
                score = (
                    covered
                    + _WEIGHT_SECTION * near / total
                    + _WEIGHT_PREVIOUS * prev / total
                    + _WEIGHT_PASSAGE * max(hit.score, 0.0) / top_score
                    + _WEIGHT_KIND
                    * (kind is not kinds.Kind.OTHER and kinds.holds(kind, sentence, question))
                    - _WEIGHT_RANK * hit.rank
                )
                candidates.append(_Candidate(hit, index, sentence, score))
        if not candidates:
            return []
        candidates.sort(key=lambda c: -c.score)
        best = candidates[0]
        chosen = [best]
        # A neighbour usually completes the best sentence ("He castigated their attitude as
        # ..."): the one after it, unless the one before covers more of what is still missing;
        # then other strong matches, up to the limit.
        if limit > 1:
            neighbour = self._neighbour(best, weights)
            if neighbour is not None:
                chosen = sorted([best, neighbour], key=lambda c: c.index)  # reading order
        for other in candidates[1:]:
            if len(chosen) >= limit:
                break
            if other.score >= 0.75 * best.score and other.sentence not in {
                c.sentence for c in chosen
            }:
                chosen.append(other)
        return chosen

    def _neighbour(self, best: _Candidate, weights: dict[str, float]) -> _Candidate | None:
        sentences = best.hit.passage.sentences
        tokenizer = self._retriever.tokenizer
        have = set(tokenizer(best.sentence))

        def gain(index: int) -> float:
            terms = set(tokenizer(sentences[index])) - have
            return sum(w for t, w in weights.items() if t in terms)

        after = best.index + 1 if best.index + 1 < len(sentences) else None
        before = best.index - 1 if best.index > 0 else None
        pick = after
        if before is not None and (after is None or gain(before) > gain(after)):
            pick = before
        if pick is None:
            return None
        return _Candidate(best.hit, pick, sentences[pick], 0.0)

    def _retrieved(self, hit: Hit) -> RetrievedPassage:
        info = self._documents[hit.passage.doc_id]
        return RetrievedPassage(
            passage_id=hit.passage.id,
            doc_id=hit.passage.doc_id,
            title=info.title,
            author=info.author,
            section=hit.passage.section,
            score=round(hit.score, 4),
            text=hit.passage.text,
        )

    def _decline(
        self, question: str, hits: Sequence[Hit], passages: list[RetrievedPassage], limit: int
    ) -> Answer:
        closest: list[SectionPointer] = []
        seen: set[tuple[str, str]] = set()
        for hit in hits:
            key = (hit.passage.doc_id, hit.passage.section)
            if key in seen or hit.score <= 0:
                continue
            seen.add(key)
            info = self._documents[hit.passage.doc_id]
            closest.append(
                SectionPointer(
                    passage_id=hit.passage.id,
                    doc_id=hit.passage.doc_id,
                    title=info.title,
                    author=info.author,
                    section=hit.passage.section,
                )
            )
            if len(closest) >= limit:
                break
        text = "The library does not answer that."
        if closest:
            text += " The closest sections are listed below."
        return Answer(
            question=question,
            answered=False,
            text=text,
            citations=[],
            passages=passages,
            closest=closest,
        )
