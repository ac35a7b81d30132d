"""One windowing class per task; `TASKS` maps the task name used everywhere to its class."""

from __future__ import annotations

from datamodules.tasks.base import SAMPLE_DTYPE, Task, TaskContext
from datamodules.tasks.imu2grf import Imu2Grf, Pretrain
from datamodules.tasks.imu2pressure import Imu2Pressure
from datamodules.tasks.insole2pose import Insole2Pose
from datamodules.tasks.landmarks2pressure import Landmarks2Pressure

TASKS: dict[str, type[Task]] = {
    cls.name: cls for cls in (Imu2Pressure, Imu2Grf, Landmarks2Pressure, Insole2Pose, Pretrain)
}


def input_channel_count(task: str, channels: list[str] | None = None, imus: list[str] | None = None) -> int:
    """How many input channels `task` serves with these options, without opening a file."""
    from datamodules.naming import QIAN_CHANNELS_18
    from datamodules.tasks.imu2grf import imu_subset_channels

    if channels:
        return len(channels)
    return {
        "imu2pressure": len(QIAN_CHANNELS_18),
        "imu2grf": len(imu_subset_channels(imus)),
        "pretrain": len(imu_subset_channels(imus)),  # the same channels as imu2grf
        "landmarks2pressure": 2,
        "insole2pose": 2,
    }[task]


__all__ = ["SAMPLE_DTYPE", "TASKS", "Task", "TaskContext", "input_channel_count"]
