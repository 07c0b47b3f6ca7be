"""The host's books of the board's step run queues (mendel.mcu._queues)."""
import numpy as np
import pytest

from mendel.mcu._queues import StepQueues


def test_runs_are_booked_until_a_motor_queue_is_full():
    queues = StepQueues(2, 3)
    motors = np.array([0, 1, 0, 0, 1, 0, 1, 1], dtype=np.int32)
    clocks = np.arange(100, 108, dtype=np.int64)
    queues.begin(motors, clocks)
    # Motor 0 takes runs 0, 2, 3; run 5 finds its queue full.
    assert queues.next_stop() == (5, 0)
    assert [queues.end(0, k) for k in range(3)] == [100, 102, 103]
    assert queues.used(1) == 2
    # Asked again without room, it stops at the same run.
    assert queues.next_stop() == (5, 0)
    # The board finished two of motor 0's runs: the oldest go.
    queues.settle(0, 1)
    assert queues.used(0) == 1 and queues.end(0, 0) == 103
    # Run 5 (motor 0) and run 6 (motor 1: runs 1, 4, 6) fit; run 7 is motor 1's fourth.
    assert queues.next_stop() == (7, 1)
    queues.settle(1, 0)
    assert queues.next_stop() == (8, -1)
    assert [queues.end(0, k) for k in range(2)] == [103, 105]
    assert queues.end(1, 0) == 107


def test_the_ring_wraps_over_many_blocks():
    queues = StepQueues(1, 4)
    clock = 0
    for block in range(50):
        clocks = np.arange(clock, clock + 3, dtype=np.int64)
        clock += 3
        queues.begin(np.zeros(3, dtype=np.int32), clocks)
        stop, motor = queues.next_stop()
        while motor >= 0:
            queues.settle(0, queues.used(0) // 2)
            stop, motor = queues.next_stop()
        assert stop == 3
        booked = [queues.end(0, k) for k in range(queues.used(0))]
        assert booked == list(range(clock - len(booked), clock))


def test_a_board_that_holds_more_than_was_booked_is_an_error():
    queues = StepQueues(1, 8)
    queues.begin(np.zeros(2, dtype=np.int32), np.array([5, 9], dtype=np.int64))
    assert queues.next_stop() == (2, -1)
    with pytest.raises(ValueError, match="holds 3 runs of motor 0, the host counted 2"):
        queues.settle(0, 3)
    with pytest.raises(ValueError, match="not one of 1"):
        queues.begin(np.array([1], dtype=np.int32), np.array([1], dtype=np.int64))
    with pytest.raises(IndexError):
        queues.end(0, 2)
