"""Text utilities: decoding (greedy and beam search)."""

from kerasnn.text.decoding import beam_search, greedy_search
