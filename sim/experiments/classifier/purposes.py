"""What each random draw of the sparse classifier is for: the second word of its Philox counter.

Every draw is ``philox4x32((c0, counter_word1(PURPOSE, c1_high), c2, c3), key)``
(:mod:`sim.philox`); the comment after each code says what the other words
hold. A table code is 0 for input -> hidden and 1 for hidden -> hidden.
"""

PURPOSE_WIRING = 1  # (pre, ., table, post // 4): word post % 4 decides whether pair (pre, post) exists
PURPOSE_SIGN = 2  # (pre, ., table, post): bit 0 of word 0 is pair (pre, post)'s fixed sign (1: positive)
PURPOSE_WEIGHT = 3  # (pre, ., table, post): initial magnitude (Box-Muller on words 0, 1)
PURPOSE_READOUT = 4  # (output, ., hidden, 0): initial readout weight (Box-Muller on words 0, 1)
PURPOSE_FEEDBACK = 5  # (output, ., hidden, 0): fixed random feedback weight (Box-Muller on words 2, 3)
PURPOSE_ORDER = 6  # (example, ., epoch, 0): sort key of the epoch's training order
PURPOSE_REGROW = 7  # (update, ., table, attempt): words 0, 1 draw the pair (pre, post)
PURPOSE_NOISE = 8  # (update, ., table, slot): temperature noise of the synapse in that slot (Box-Muller)
