def test_left_overs_of_killed_writes_are_cleaned_and_failures_name_the_target(tmp_path):
    import os
    import time

    import pytest

    from ratescope.core.atomic import STALE_S, atomic_path
    from ratescope.core.errors import RateScopeError

    target = tmp_path / "r.csv"
    old, fresh = tmp_path / ".r.csv.abc.part", tmp_path / ".r.csv.def.part"
    other = tmp_path / ".s.csv.abc.part"  # another target's: not ours to remove
    for p in (old, fresh, other):
        p.write_text("x")
    then = time.time() - STALE_S - 60
    os.utime(old, (then, then))
    os.utime(other, (then, then))
    with atomic_path(target) as tmp:
        tmp.write_text("a,b\n")
    assert target.read_text() == "a,b\n"
    assert not old.exists() and fresh.exists() and other.exists()
    with pytest.raises(RateScopeError, match=r"^r\.csv: could not write the file"):
        with atomic_path(target) as tmp:
            raise OSError(28, "No space left on device", str(tmp))
    assert target.read_text() == "a,b\n"
