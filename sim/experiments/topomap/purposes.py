"""What each random draw of the topographic map is for: the second word of its Philox counter.

Every draw is ``philox4x32((c0, counter_word1(PURPOSE, step), c2, c3), key)``
(:mod:`sim.philox`); the tuple after each code says what the other words
hold. Another experiment numbers its own purposes.
"""

PURPOSE_STIMULUS = 1  # (stimulus index, ., 0, 0): the stimulus location
PURPOSE_POISSON = 2  # (step, ., block // 4, 0): word block % 4 finds a block's first source spike
PURPOSE_V_INIT = 3  # (0, ., neuron, 0): initial membrane potential (Box-Muller)
PURPOSE_WIRING_FF = 4  # (target, ., attempt, 0) fixed fan-in; (target, ., pre, 0) pairwise
PURPOSE_WIRING_LAT = 5
PURPOSE_SLOT = 6  # (step, ., attempt, 0): target, slot, partner, acceptance
PURPOSE_PAIR_FF = 7  # (step, ., attempt, redraw): pre, post, acceptance
PURPOSE_PAIR_LAT = 8
PURPOSE_ATTEMPTS = 9  # (step, ., projection, 0): the fractional part of the attempt count
PURPOSE_POISSON_REST = 10  # (step, ., block, k // 4): neurons after a block's first spike
