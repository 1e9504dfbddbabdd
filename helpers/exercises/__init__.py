"""Self-checks of the course's exercises: one module per notebook, one function per exercise.

A check takes what the student wrote (a number, an array, a function), tests the idea behind
the exercise on inputs the student never saw (other frames, other shapes, other seeds; through
gradients where the exercise is about gradients), and prints "✓ correct" or
"✗ not yet: <hint>". When a wrong answer looks like a known misconception, the hint names it.
A check computes its own reference answer, so no notebook cell has to contain it, and it
never raises: whatever the student passes, it says what it expected instead.

    from helpers.exercises import generation_problem as exercises
    exercises.check_crossing_length(L_cross)
"""
