# Type stubs of the resr module (python/resr_module.cpp), for editors and type checkers; copied beside the module.
from typing import Callable, Optional, Sequence, Tuple, TypedDict, Union

import os

import numpy as np
import numpy.typing as npt

__version__: str

# Image and video file names: str (os.listdir's surrogate escapes included), bytes or a path object.
FileName = Union[str, bytes, os.PathLike[str], os.PathLike[bytes]]

class Error(RuntimeError): ...

class StageTimes(TypedDict):
    decode_ms: float
    preprocess_ms: float
    inference_ms: float
    postprocess_ms: float
    encode_ms: float
    total_ms: float
    tiles: int
    memory_retries: int

class FileResult(StageTimes):
    input: str
    output: str
    ok: bool
    error: Optional[str]
    input_size: Tuple[int, int]
    output_size: Tuple[int, int]

class VideoInfo(TypedDict):
    frames: int
    input_size: Tuple[int, int]
    output_size: Tuple[int, int]
    decode_ms: float
    upscale_ms: float
    encode_ms: float
    encoder: str
    notes: list[str]

Pixels = npt.NDArray[np.uint8] | npt.NDArray[np.uint16]

class Upscaler:
    def __init__(self, *, model: str = "", model_path: FileName = "", model_dir: FileName = "",
                 backend: str = "auto",
                 fp32: bool = False, bf16: bool = False, scale: float = 0.0, width: int = 0, height: int = 0,
                 alpha: str = "model", tile: int = 0, tile_pad: int = -1, quality: int = 95,
                 lossless: bool = False, tta: bool = False, activation: str = "", denoise_strength: float = -1.0,
                 dn_model: FileName = "") -> None: ...
    @property
    def architecture(self) -> str: ...
    @property
    def activation_assumed(self) -> bool: ...
    @property
    def denoise_model(self) -> str: ...
    @property
    def model_scale(self) -> int: ...
    @property
    def backend(self) -> str: ...
    @property
    def last_times(self) -> StageTimes: ...
    def upscale(self, pixels: Pixels, *, progress: Optional[Callable[[int, int], None]] = None) -> Pixels: ...
    def upscale_file(self, input: FileName, output: FileName, *,
                     progress: Optional[Callable[[int, int], None]] = None) -> StageTimes: ...
    def upscale_files(self, jobs: Sequence[Tuple[FileName, FileName]], load_threads: int = 1,
                      save_threads: int = 1) -> list[FileResult]: ...
    def upscale_video(self, input: FileName, output: FileName, codec: str = "", crf: int = 18, preset: str = "",
                      pix_fmt: str = "", progress: Optional[Callable[[int, int], None]] = None) -> VideoInfo: ...

class CalibrationInfo(TypedDict):
    images_used: int
    images_skipped: int
    tiles: int
    tensors: int
    seconds: float
    warnings: list[str]
    activation_assumed: bool

class ConvertInfo(TypedDict):
    files: str
    bytes: int
    architecture: str
    convs: dict[str, int]
    quantized_share: float
    search_psnr_db: float
    quality_psnr_db: Optional[float]
    target_reached: bool
    activation_assumed: bool

def calibrate(images: FileName, output: FileName, *, model: str = "", model_path: FileName = "",
              model_dir: FileName = "",
              tiles: int = 200, tile: int = 128, seed: int = 0, method: str = "percentile",
              percentile: float = 99.99, backend: str = "cpu", denoise_strength: float = -1.0,
              dn_model: FileName = "", activation: str = "",
              progress: Optional[Callable[[int, int], None]] = None) -> CalibrationInfo: ...
def convert(output: FileName, *, model: str = "", model_path: FileName = "", model_dir: FileName = "",
            precision: str = "", storage: str = "", calib: FileName = "", qtable: FileName = "",
            asymmetric: bool = False, input_scales: str = "",
            scale_migration: Optional[Union[str, float]] = "",
            target_psnr: float = 0.0,
            images: FileName = "", search_tiles: int = 8, search_tile: int = 48, denoise_strength: float = -1.0,
            dn_model: FileName = "", activation: str = "",
            progress: Optional[Callable[[str], None]] = None) -> ConvertInfo: ...
def read_image(path: FileName) -> Pixels: ...
def write_image(path: FileName, pixels: Pixels, quality: int = 95, *, lossless: bool = False) -> None: ...
def niqe(pixels: Pixels) -> float: ...
def psnr(pixels: Pixels, reference: Pixels, *, y_channel: bool = False, crop_border: int = 0) -> float: ...
def ssim(pixels: Pixels, reference: Pixels, *, y_channel: bool = False, crop_border: int = 0) -> float: ...
