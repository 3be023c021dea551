"""The Python module against the CLI, the golden output and bad input (run by ctest as python_bindings)."""
import os
import shutil
import signal
import subprocess
import threading
import time

import numpy as np
import pytest

import resr

DATA = os.environ["RESR_TEST_DATA"]
IN_PNG = os.path.join(DATA, "x4fast_37x29.in.png")
GOLDEN_PNG = os.path.join(DATA, "x4fast_37x29.out.png")


@pytest.fixture(scope="module")
def up():
    return resr.Upscaler(model="x4fast", backend="cpu")


@pytest.fixture(scope="module")
def pixels():
    return resr.read_image(IN_PNG)


def test_model_facts(up):
    assert up.architecture == "SRVGGNetCompact"
    assert up.model_scale == 4
    assert up.backend.startswith("cpu")
    assert not up.activation_assumed  # x4fast has PReLU slopes
    assert resr.__version__


def test_activation_of_weights_without_prelu_slopes(pixels):
    path = os.path.join(DATA, "fixtures", "srvgg_x1_leakyrelu.pth")
    relu = resr.Upscaler(model_path=path, backend="cpu")
    assert relu.activation_assumed
    leaky = resr.Upscaler(model_path=path, backend="cpu", activation="leakyrelu")
    assert not leaky.activation_assumed
    assert not np.array_equal(relu.upscale(pixels), leaky.upscale(pixels))
    with pytest.raises(resr.Error, match="activation must be"):
        resr.Upscaler(model_path=path, backend="cpu", activation="gelu")


def test_array_equals_the_cli_and_the_golden_output(up, pixels, tmp_path):
    assert pixels.shape == (29, 37, 3) and pixels.dtype == np.uint8
    out = up.upscale(pixels)
    assert out.shape == (116, 148, 3) and out.dtype == np.uint8
    cli_out = tmp_path / "cli.png"
    subprocess.run([os.environ["RESR_BINARY"], "upscale", "--backend", "cpu", "-n", "x4fast", "-i", IN_PNG, "-o",
                    str(cli_out)], check=True, capture_output=True)
    np.testing.assert_array_equal(out, resr.read_image(str(cli_out)))
    golden = resr.read_image(GOLDEN_PNG)
    assert np.abs(out.astype(np.int32) - golden).max() <= 1
    times = up.last_times
    assert times["inference_ms"] > 0 and times["decode_ms"] == 0 and times["tiles"] == 1


def test_layouts_and_bit_depths(up, pixels):
    gray = pixels[:, :, 1].copy()
    assert up.upscale(gray).shape == (116, 148)
    assert up.upscale(gray[:, :, None]).shape == (116, 148, 1)
    gray_alpha = np.dstack([gray, np.full_like(gray, 255)])
    out = up.upscale(gray_alpha)
    assert out.shape == (116, 148, 2) and (out[:, :, 1] == 255).all()
    rgba = np.dstack([pixels, np.full_like(gray, 255)])
    np.testing.assert_array_equal(up.upscale(rgba)[:, :, :3], up.upscale(pixels))
    # 16 bits: the same image at 257x gives the 8-bit result at 257x, within rounding.
    deep = up.upscale(pixels.astype(np.uint16) * 257)
    assert deep.dtype == np.uint16
    assert np.abs(deep / 257.0 - up.upscale(pixels)).max() <= 1.0


def test_views_are_read_as_their_pixels(up, pixels):
    flipped = pixels[:, ::-1]  # not C-contiguous
    np.testing.assert_array_equal(up.upscale(flipped), up.upscale(np.ascontiguousarray(flipped)))
    # Big-endian 16-bit samples are uint16 pixels (they were a TypeError).
    deep = pixels.astype(np.uint16) * 257
    big_endian = deep.astype(">u2")[:, ::-1]
    np.testing.assert_array_equal(up.upscale(big_endian), up.upscale(np.ascontiguousarray(deep[:, ::-1])))


def test_a_progress_callback_calling_its_own_upscaler_is_refused(pixels, tmp_path):
    # It waited for the lock its own caller held, for ever (Ctrl-C too); another Upscaler is fine.
    tiled = resr.Upscaler(model="x4fast", backend="cpu", tile=16)
    other = resr.Upscaler(model="x4fast", backend="cpu")
    small = pixels[:8, :8]
    with pytest.raises(resr.Error, match="busy with the call whose progress callback this is"):
        tiled.upscale(pixels, progress=lambda d, t: tiled.upscale(small))
    with pytest.raises(resr.Error, match="busy"):
        tiled.upscale_file(IN_PNG, str(tmp_path / "o.png"), progress=lambda d, t: tiled.upscale_file(IN_PNG, str(tmp_path / "p.png")))
    seen = []
    tiled.upscale(pixels, progress=lambda d, t: seen.append(other.upscale(small).shape))
    assert seen and seen[0] == (32, 32, 3)
    assert tiled.upscale(small).shape == (32, 32, 3)  # usable after


def test_output_size_options(pixels):
    assert resr.Upscaler(model="x4fast", backend="cpu", scale=2).upscale(pixels).shape == (58, 74, 3)
    assert resr.Upscaler(model="x4fast", backend="cpu", width=50, height=40).upscale(pixels).shape == (40, 50, 3)


def test_progress_reports_tiles_and_a_raising_callback_stops(pixels, tmp_path):
    tiled = resr.Upscaler(model="x4fast", backend="cpu", tile=16)
    calls = []
    out = tiled.upscale(pixels, progress=lambda done, total: calls.append((done, total)))
    assert out.shape == (116, 148, 3)
    assert calls == [(i, 6) for i in range(1, 7)]

    def stop_at_two(done, total):
        if done == 2:
            raise KeyboardInterrupt("enough")

    with pytest.raises(KeyboardInterrupt, match="enough"):
        tiled.upscale(pixels, progress=stop_at_two)
    out_png = tmp_path / "o.png"
    with pytest.raises(KeyboardInterrupt):
        tiled.upscale_file(IN_PNG, str(out_png), progress=stop_at_two)
    assert not out_png.exists() and list(tmp_path.iterdir()) == []
    files = []
    tiled.upscale_file(IN_PNG, str(out_png), progress=lambda d, t: files.append(d))
    assert files == list(range(1, 7)) and out_png.exists()


def test_tta_averages_eight_orientations(up, pixels):
    plain = up.upscale(pixels).astype(np.float64)
    tta_up = resr.Upscaler(model="x4fast", backend="cpu", tta=True)
    tta = tta_up.upscale(pixels).astype(np.float64)
    assert tta.shape == plain.shape
    mse = np.mean((tta - plain) ** 2)
    assert 0 < mse and 10 * np.log10(255 ** 2 / mse) > 30
    # The 8 runs of a rotated image are those of the image: its output is the rotated output (to rounding).
    rotated = tta_up.upscale(np.ascontiguousarray(np.rot90(pixels))).astype(np.float64)
    assert np.max(np.abs(rotated - np.rot90(tta))) <= 1


def test_quality_measures(up, pixels):
    photo = resr.read_image(os.path.join(DATA, "niqe", "0002.png"))
    assert abs(resr.niqe(photo) - 4.105866) < 1e-4
    assert resr.psnr(photo, photo) == float("inf")
    assert resr.ssim(photo, photo) == 1.0
    off = np.where(photo < 255, photo + 1, photo - 1).astype(np.uint8)
    assert abs(resr.psnr(off, photo) - 20 * np.log10(255)) < 1e-9
    noisy = np.clip(photo.astype(np.int16) + np.random.default_rng(1).integers(-8, 9, photo.shape), 0, 255)
    noisy = noisy.astype(np.uint8)
    mse = np.mean((noisy.astype(np.float64) - photo) ** 2)
    assert abs(resr.psnr(noisy, photo) - 10 * np.log10(255 ** 2 / mse)) < 1e-9
    assert 0.5 < resr.ssim(noisy, photo, y_channel=True, crop_border=4) < 1
    with pytest.raises(resr.Error, match="crop_border must be 0 or more"):
        resr.psnr(photo, photo, crop_border=-1)
    for border in (2 ** 30, 2 ** 31 - 1):  # 2 * border would overflow an int
        with pytest.raises(resr.Error, match="crop border leaves nothing"):
            resr.psnr(photo, photo, crop_border=border)
        with pytest.raises(resr.Error, match="leaves less than"):
            resr.ssim(photo, photo, crop_border=border)
    with pytest.raises(resr.Error):
        resr.psnr(photo, photo[:100])


def test_file_gives_stage_times_and_the_same_pixels(up, pixels, tmp_path):
    out = tmp_path / "out.png"
    times = up.upscale_file(IN_PNG, str(out))
    assert times["decode_ms"] > 0 and times["inference_ms"] > 0 and times["encode_ms"] > 0
    assert times["total_ms"] >= times["inference_ms"]
    np.testing.assert_array_equal(resr.read_image(str(out)), up.upscale(pixels))


def test_files_go_on_past_a_bad_one(up, tmp_path):
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    jobs = [(IN_PNG, str(tmp_path / "a.png")), (str(bad), str(tmp_path / "b.png")),
            (IN_PNG, str(tmp_path / "c.webp"))]
    results = up.upscale_files(jobs, load_threads=2, save_threads=2)
    assert [r["ok"] for r in results] == [True, False, True]
    assert str(bad) in results[1]["error"]
    assert results[0]["input_size"] == (37, 29) and results[0]["output_size"] == (148, 116)
    assert results[2]["encode_ms"] > 0
    assert (tmp_path / "a.png").exists() and (tmp_path / "c.webp").exists()
    assert not (tmp_path / "b.png").exists()


def test_an_output_that_is_its_input_is_refused(up, tmp_path):
    own = tmp_path / "own.png"
    shutil.copy(IN_PNG, own)
    before = own.read_bytes()
    with pytest.raises(resr.Error, match="the output would overwrite its input"):
        up.upscale_file(str(own), str(own))
    results = up.upscale_files([(str(own), str(own)), (IN_PNG, str(tmp_path / "other.png"))])
    assert [r["ok"] for r in results] == [False, True]
    assert "the output would overwrite its input" in results[0]["error"]
    assert own.read_bytes() == before


def test_two_jobs_with_one_output_fail_the_later(up, tmp_path):
    # Both reported ok while the second image replaced the first.
    out = tmp_path / "dup.png"
    results = up.upscale_files([(IN_PNG, str(out)), (IN_PNG, str(tmp_path / "." / "dup.png"))])
    assert [r["ok"] for r in results] == [True, False]
    assert "also the output of " + IN_PNG in results[1]["error"]
    with pytest.raises(TypeError, match="each job is an"):
        up.upscale_files(["ab"])  # was the job ("a", "b")


def test_names_that_are_not_utf8_or_are_paths(up, pixels, tmp_path):
    # os.listdir gives such names as str with surrogate escapes; the error was empty and the results were lost.
    odd = os.fsdecode(os.fsencode(tmp_path) + b"/out\xff.png")
    results = up.upscale_files([(IN_PNG, odd)])
    assert results[0]["ok"] and results[0]["output"] == odd
    assert resr.read_image(odd).shape == (116, 148, 3)
    assert resr.read_image(os.fsencode(odd)).shape == (116, 148, 3)
    with pytest.raises(resr.Error, match=r"missing\\xff\.png: cannot open"):
        resr.read_image(b"missing\xff.png")
    resr.write_image(tmp_path / "path.png", pixels)  # pathlib.Path
    assert up.upscale_file(tmp_path / "path.png", tmp_path / "path_x4.png")["tiles"] >= 1


def sigint_after(seconds):
    timer = threading.Timer(seconds, lambda: os.kill(os.getpid(), signal.SIGINT))
    timer.start()
    return timer


def test_ctrl_c_stops_long_work_without_a_callback(tmp_path):
    # 256x256 in tiles of 16: 256 tiles, about 5 s here; a SIGINT 0.2 s in stops it at the next tile.
    tiled = resr.Upscaler(model="x4fast", backend="cpu", tile=16)
    big = np.random.default_rng(0).integers(0, 256, (256, 256, 3), dtype=np.uint8)
    start = time.monotonic()
    timer = sigint_after(0.2)
    with pytest.raises(KeyboardInterrupt):
        tiled.upscale(big)
    timer.join()
    assert time.monotonic() - start < 2.5
    # Files: inference runs on a pipeline thread; the calling thread checks signals while it waits.
    resr.write_image(str(tmp_path / "big.png"), big[:128, :128])
    jobs = [(str(tmp_path / "big.png"), str(tmp_path / f"out{i}.png")) for i in range(3)]
    start = time.monotonic()
    timer = sigint_after(0.2)
    with pytest.raises(KeyboardInterrupt):
        tiled.upscale_files(jobs)
    timer.join()
    assert not all(os.path.exists(out) for _, out in jobs)


def test_arrays_that_are_not_images(up, pixels, tmp_path):
    with pytest.raises(TypeError, match="uint8 or uint16"):
        up.upscale(pixels.astype(np.float32))
    with pytest.raises(ValueError, match="dimensions"):
        up.upscale(pixels[None])
    with pytest.raises(ValueError, match="channels"):
        up.upscale(np.zeros((4, 4, 5), np.uint8))
    with pytest.raises(ValueError, match="zero width or height"):
        up.upscale(np.zeros((0, 4, 3), np.uint8))
    with pytest.raises(ValueError, match="zero width or height"):
        resr.write_image(str(tmp_path / "never.png"), np.zeros((3, 0), np.uint8))
    assert not (tmp_path / "never.png").exists()
    # A view that claims more pixels than any function takes is refused before it is copied.
    with pytest.raises(ValueError, match="exceeds the limit"):
        up.upscale(np.broadcast_to(np.zeros(1, np.uint8), (40000, 40000, 3)))


def test_bad_models_and_options_raise_one_line(tmp_path):
    with pytest.raises(resr.Error, match="'nope' not found"):
        resr.Upscaler(model="nope")
    truncated = tmp_path / "broken.pth"
    truncated.write_bytes(b"PK\x03\x04 not a whole zip")
    with pytest.raises(resr.Error, match="broken.pth"):
        resr.Upscaler(model_path=str(truncated))
    with pytest.raises(resr.Error, match="alpha"):
        resr.Upscaler(model="x4fast", alpha="nearest")
    with pytest.raises(resr.Error, match="backend"):
        resr.Upscaler(model="x4fast", backend="tpu")
    with pytest.raises(TypeError):
        resr.Upscaler("x4fast")  # keywords only: a bare string could be a name or a path


def test_integers_past_an_int_name_their_argument(up, pixels, tmp_path):
    # They failed as a mismatch of types: a TypeError of many lines listing the whole signature.
    with pytest.raises(ValueError, match=r"^tile=1099511627776 is out of range \(-2147483648 to 2147483647\)$"):
        resr.Upscaler(model="x4fast", tile=2 ** 40)
    with pytest.raises(ValueError, match=r"^width=-\d+ is out of range"):
        resr.Upscaler(model="x4fast", width=-(2 ** 70))
    with pytest.raises(ValueError, match="^crop_border="):
        resr.psnr(pixels, pixels, crop_border=2 ** 31)
    with pytest.raises(ValueError, match="^save_threads="):
        up.upscale_files([], save_threads=2 ** 63)
    with pytest.raises(ValueError, match="^quality="):
        resr.write_image(str(tmp_path / "never.png"), pixels, quality=2 ** 32)
    assert not (tmp_path / "never.png").exists()
    with pytest.raises(ValueError, match="^search_tile="):
        resr.convert(str(tmp_path / "never.resr"), model="x4fast", search_tile=2 ** 33)
    with pytest.raises(ValueError, match="^tiles="):
        resr.calibrate(str(tmp_path), str(tmp_path / "never.calib"), model="x4fast", tiles=2 ** 33)
    with pytest.raises(ValueError, match=r"^seed=-1 is out of range \(0 to 18446744073709551615\)$"):
        resr.calibrate(str(tmp_path), str(tmp_path / "never.calib"), model="x4fast", seed=-1)
    with pytest.raises(ValueError, match=r"^crop_border=\(an integer of 16610 bits\) is out of range"):
        resr.psnr(pixels, pixels, crop_border=10 ** 5000)
    # Integers of other kinds still count (numpy's, bool), and a float is still the wrong type (numpy's too: it was
    # truncated, np.float32(16.7) taken as 16).
    assert resr.Upscaler(model="x4fast", backend="cpu", tile=np.int64(16), tile_pad=np.uint8(4)).model_scale == 4
    assert resr.psnr(pixels, pixels, crop_border=True) == float("inf")
    with pytest.raises(TypeError):
        resr.Upscaler(model="x4fast", tile=16.0)
    with pytest.raises(TypeError):
        resr.Upscaler(model="x4fast", tile=np.float32(16.7))


def test_bad_files_raise_and_write_nothing(up, pixels, tmp_path):
    out = tmp_path / "never.png"
    with pytest.raises(resr.Error, match="/nonexistent/in.png"):
        up.upscale_file("/nonexistent/in.png", str(out))
    corrupt = tmp_path / "corrupt.jpg"
    corrupt.write_bytes(b"\xff\xd8\xff\xe0 this is not a jpeg")
    with pytest.raises(resr.Error, match="corrupt.jpg"):
        up.upscale_file(str(corrupt), str(out))
    with pytest.raises(resr.Error, match="corrupt.jpg"):
        resr.read_image(str(corrupt))
    with pytest.raises(resr.Error, match="never.bmp"):
        resr.write_image(str(tmp_path / "never.bmp"), pixels)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["corrupt.jpg"]


def test_write_then_read_keeps_16_bit_pixels(tmp_path):
    rng = np.random.default_rng(7)
    deep = rng.integers(0, 65536, size=(9, 11, 3), dtype=np.uint16)
    path = str(tmp_path / "deep.png")
    resr.write_image(path, deep)
    np.testing.assert_array_equal(resr.read_image(path), deep)


def test_lossless_webp_keeps_every_pixel(up, pixels, tmp_path):
    rng = np.random.default_rng(8)
    rgba = rng.integers(0, 256, size=(9, 11, 4), dtype=np.uint8)
    resr.write_image(str(tmp_path / "exact.webp"), rgba, lossless=True)
    np.testing.assert_array_equal(resr.read_image(str(tmp_path / "exact.webp")), rgba)
    resr.write_image(str(tmp_path / "lossy.webp"), rgba)
    assert not np.array_equal(resr.read_image(str(tmp_path / "lossy.webp")), rgba)
    lossless = resr.Upscaler(model="x4fast", backend="cpu", lossless=True)
    lossless.upscale_file(IN_PNG, str(tmp_path / "out.webp"))
    np.testing.assert_array_equal(resr.read_image(str(tmp_path / "out.webp")), up.upscale(pixels))
    # A JPEG has no lossless mode: refused, where a lossy file was written.
    with pytest.raises(resr.Error, match="JPEG has no lossless mode"):
        resr.write_image(str(tmp_path / "l.jpg"), rgba[:, :, :3], lossless=True)
    with pytest.raises(resr.Error, match="JPEG has no lossless mode"):
        lossless.upscale_file(IN_PNG, str(tmp_path / "out.jpg"))
    assert not (tmp_path / "l.jpg").exists() and not (tmp_path / "out.jpg").exists()


def test_threads_share_one_upscaler(up, pixels):
    want = up.upscale(pixels)
    got = [None] * 4

    def work(i):
        got[i] = up.upscale(pixels)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for g in got:
        np.testing.assert_array_equal(g, want)


def test_model_files_by_path(pixels, tmp_path):
    models = os.environ["RESR_MODELS"]
    for name in ("realesrgan-x4fast.param", "realesrgan-x4fast.bin"):
        shutil.copy(os.path.join(models, name), tmp_path / name)
    by_path = resr.Upscaler(model_path=str(tmp_path / "realesrgan-x4fast.param"), backend="cpu")
    np.testing.assert_array_equal(by_path.upscale(pixels), resr.Upscaler(model="x4fast", backend="cpu").upscale(pixels))


@pytest.mark.skipif("RESR_MAKE_CLIP" not in os.environ, reason="built without the video plugin (no FFmpeg)")
def test_video(up, tmp_path):
    clip = tmp_path / "clip.mkv"
    subprocess.run([os.environ["RESR_MAKE_CLIP"], str(clip)], check=True)
    info = up.upscale_video(str(clip), str(tmp_path / "big.mkv"), codec="ffv1", pix_fmt="bgr0")
    assert info["frames"] == 6
    assert info["input_size"] == (32, 24) and info["output_size"] == (128, 96)
    assert info["encoder"] == "ffv1 bgr0" and info["notes"] == []
    assert info["upscale_ms"] > 0
    with pytest.raises(resr.Error, match="nosuchcodec"):
        up.upscale_video(str(clip), str(tmp_path / "never.mkv"), codec="nosuchcodec")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["big.mkv", "clip.mkv"]
    # An image name: FFmpeg's image muxer wrote frames over it (and beside it for a %d pattern) before failing.
    (tmp_path / "keep.png").write_bytes(b"old")
    for name in ("keep.png", "f%02d.png"):
        with pytest.raises(resr.Error, match="the output of a video must be a video file"):
            up.upscale_video(str(clip), str(tmp_path / name))
    assert (tmp_path / "keep.png").read_bytes() == b"old"
    (tmp_path / "keep.png").unlink()
    seen = []
    up.upscale_video(str(clip), str(tmp_path / "seen.mkv"), codec="ffv1", progress=lambda d, t: seen.append(d))
    assert seen == [1, 2, 3, 4, 5, 6]

    def stop_at_two(done, total):
        if done == 2:
            raise KeyboardInterrupt("enough")

    with pytest.raises(KeyboardInterrupt, match="enough"):
        up.upscale_video(str(clip), str(tmp_path / "stopped.mkv"), codec="ffv1", progress=stop_at_two)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["big.mkv", "clip.mkv", "seen.mkv"]


def test_the_stubs_name_what_the_module_has():
    import ast
    stub = ast.parse(open(os.path.join(os.path.dirname(resr.__file__), "resr.pyi")).read())
    names = {n.name for n in stub.body if isinstance(n, (ast.FunctionDef, ast.ClassDef))}
    assert {"Upscaler", "Error", "read_image", "write_image", "calibrate", "convert", "niqe", "psnr", "ssim"} <= names
    functions = {n.name for n in stub.body if isinstance(n, ast.FunctionDef)}
    assert functions == {m for m in dir(resr) if not m.startswith("_") and callable(getattr(resr, m))} - {
        "Upscaler", "Error"}
    methods = {f.name for c in stub.body if isinstance(c, ast.ClassDef) and c.name == "Upscaler" for f in c.body
               if isinstance(f, ast.FunctionDef) and not f.name.startswith("__")}
    module_methods = {m for m in dir(resr.Upscaler) if not m.startswith("_")}
    assert methods == module_methods


def test_cuda_backend_runs_or_says_why(pixels):
    # Without a GPU (or without the CUDA build) the error says so; with one, the output is the CPU's within FP16.
    try:
        gpu = resr.Upscaler(model="x4fast", backend="cuda")
    except resr.Error as e:
        assert "CUDA" in str(e)
        return
    cpu = resr.Upscaler(model="x4fast", backend="cpu")
    assert np.abs(gpu.upscale(pixels).astype(np.int32) - cpu.upscale(pixels)).max() <= 2


def cpu_has_avx512_bf16():
    try:
        with open("/proc/cpuinfo") as f:
            return any(line.startswith("flags") and " avx512_bf16" in line for line in f)
    except OSError:
        return False


def test_bf16_products_stay_close_to_fp32(pixels):
    fp32 = resr.Upscaler(model="x4fast", backend="cpu").upscale(pixels)
    bf16 = resr.Upscaler(model="x4fast", backend="cpu", bf16=True).upscale(pixels)
    assert bf16.shape == fp32.shape and bf16.dtype == fp32.dtype
    mse = np.mean((bf16.astype(np.float64) - fp32) ** 2)
    if cpu_has_avx512_bf16():
        assert mse > 0 and 10 * np.log10(255.0 ** 2 / mse) > 35  # bfloat16 products: close, not equal
    else:
        assert mse == 0  # the option has no effect: fp32


def test_calibrate_convert_and_upscale_with_the_int8_model(pixels, tmp_path):
    photos = tmp_path / "photos"
    photos.mkdir()
    shutil.copy(IN_PNG, photos / "a.png")
    (photos / "broken.png").write_bytes(b"not a png")
    seen = []
    info = resr.calibrate(str(photos), str(tmp_path / "t.calib"), model="x4fast", tiles=4, tile=16,
                          progress=lambda done, total: seen.append((done, total)))
    assert info["images_used"] == 1 and info["images_skipped"] == 1 and info["tiles"] == 4
    assert len(info["warnings"]) == 1 and "broken.png" in info["warnings"][0]
    assert seen[-1] == (4, 4)
    out = resr.convert(str(tmp_path / "m.resr"), model="x4fast", precision="int8", calib=str(tmp_path / "t.calib"))
    assert out["convs"]["int8"] > 30 and out["quantized_share"] > 0.9
    assert out["bytes"] == os.path.getsize(tmp_path / "m.resr")
    int8 = resr.Upscaler(model_path=str(tmp_path / "m.resr"), backend="cpu").upscale(pixels)
    fp32 = resr.Upscaler(model="x4fast", backend="cpu").upscale(pixels)
    diff = int8.astype(np.float64) - fp32
    psnr = 10 * np.log10(255.0 ** 2 / np.mean(diff ** 2))
    assert 30 < psnr < 99
    assert out["quality_psnr_db"] is None  # no images: not measured
    measured = resr.convert(str(tmp_path / "q.resr"), model="x4fast", precision="int8", calib=str(tmp_path / "t.calib"),
                            images=str(photos), search_tiles=2, search_tile=16)
    assert 20 < measured["quality_psnr_db"] < 99
    # One input scale per conv instead of one per channel: smaller (no channel scales stored), still INT8.
    per_tensor = resr.convert(str(tmp_path / "t.resr"), model="x4fast", precision="int8",
                              calib=str(tmp_path / "t.calib"), input_scales="tensor")
    assert per_tensor["convs"]["int8"] == out["convs"]["int8"] and per_tensor["bytes"] < out["bytes"]
    # scale_migration "estimate": the strength estimated per group of convs (the CLI's --scale-migration estimate).
    estimated = resr.convert(str(tmp_path / "e.resr"), model="x4fast", precision="int8",
                             calib=str(tmp_path / "t.calib"), scale_migration="estimate")
    assert estimated["convs"]["int8"] == out["convs"]["int8"] and estimated["bytes"] > per_tensor["bytes"]
    # ... other factors than the default strength's for some convs
    assert (tmp_path / "e.resr").read_bytes() != (tmp_path / "m.resr").read_bytes()
    # A strength as a number or as its text: the same model; the default strength, 0.5, is the default's model
    # (compared by their outputs: a file records when it was written).
    outs = {}
    for name, strength in (("n.resr", np.float32(0.75)), ("s.resr", "0.75"), ("h.resr", 0.5)):
        resr.convert(str(tmp_path / name), model="x4fast", precision="int8", calib=str(tmp_path / "t.calib"),
                     scale_migration=strength)
        outs[name] = resr.Upscaler(model_path=str(tmp_path / name), backend="cpu").upscale(pixels)
    assert np.array_equal(outs["n.resr"], outs["s.resr"])
    assert not np.array_equal(outs["n.resr"], int8)
    assert np.array_equal(outs["h.resr"], int8)


def test_conversion_errors_name_the_problem_and_write_nothing(tmp_path):
    with pytest.raises(resr.Error, match="needs --calib"):
        resr.convert(str(tmp_path / "m.resr"), model="x4fast", precision="int8")
    for bad in (-2, 0, 1.5, "0.5x", "estimated", "nan"):
        with pytest.raises(resr.Error, match="--scale-migration must be auto, estimate or in"):
            resr.convert(str(tmp_path / "m.resr"), model="x4fast", precision="int8", calib="x.calib",
                         scale_migration=bad)
    with pytest.raises(TypeError, match="scale_migration must be"):
        resr.convert(str(tmp_path / "m.resr"), model="x4fast", precision="int8", calib="x.calib", scale_migration=[1])
    with pytest.raises(resr.Error, match="--input-scales must be channel or tensor"):
        resr.convert(str(tmp_path / "m.resr"), model="x4fast", precision="int8", calib="x.calib", input_scales="row")
    for precision, calib in (("fp16", ""), ("int8", "x.calib")):  # NaN passes every comparison: refused by name
        with pytest.raises(resr.Error, match="--target-psnr must be in"):
            resr.convert(str(tmp_path / "m.resr"), model="x4fast", precision=precision, calib=calib,
                         target_psnr=float("nan"))
    with pytest.raises(resr.Error, match="no_such: no such file or folder"):
        resr.calibrate(str(tmp_path / "no_such"), str(tmp_path / "t.calib"), model="x4fast")
    with pytest.raises(resr.Error, match="--percentile applies to --method percentile, not kl"):
        resr.calibrate(IN_PNG, str(tmp_path / "t.calib"), model="x4fast", method="kl", percentile=99.0)
    with pytest.raises(resr.Error, match="unknown method"):
        resr.calibrate(DATA, str(tmp_path / "t.calib"), model="x4fast", method="median")
    with pytest.raises(TypeError):
        resr.convert(str(tmp_path / "m.resr"), "x4fast")  # keywords only after the output
    assert list(tmp_path.iterdir()) == []


def test_a_raising_progress_callback_stops_the_run_and_writes_nothing(tmp_path):
    calls = []

    def fail(done, total):
        calls.append(done)
        raise ValueError("stop")

    with pytest.raises(ValueError, match="stop"):
        resr.calibrate(IN_PNG, str(tmp_path / "t.calib"), model="x4fast", tiles=5, tile=16, progress=fail)
    assert calls == [1]
    assert not (tmp_path / "t.calib").exists()


def test_denoise_strength_blends_the_twin_as_the_cli(pixels, tmp_path):
    model = tmp_path / "realesr-general-x4v3.safetensors"
    twin = tmp_path / "realesr-general-wdn-x4v3.safetensors"
    shutil.copy(os.path.join(DATA, "fixtures", "srvgg_x4_prelu.safetensors"), model)
    weights = model.read_bytes()  # the twin: every F32 weight halved (after the header), so the blend is a third model
    start = 8 + int.from_bytes(weights[:8], "little")
    halved = (np.frombuffer(weights[start:], dtype="<f4") * np.float32(0.5)).astype("<f4")
    twin.write_bytes(weights[:start] + halved.tobytes())
    default = resr.Upscaler(model_path=str(model), backend="cpu")
    assert default.denoise_model == str(twin)
    half = resr.Upscaler(model_path=str(model), backend="cpu", denoise_strength=0.5)
    alone = resr.Upscaler(model_path=str(model), backend="cpu", denoise_strength=1)
    assert alone.denoise_model == ""
    out = default.upscale(pixels)
    np.testing.assert_array_equal(out, half.upscale(pixels))
    assert not np.array_equal(out, alone.upscale(pixels))
    strong = resr.Upscaler(model_path=str(model), backend="cpu", denoise_strength=0.2, dn_model=str(twin))
    assert strong.denoise_model == str(twin)
    assert not np.array_equal(out, strong.upscale(pixels))
    with pytest.raises(resr.Error, match="denoise_strength must be"):
        resr.Upscaler(model_path=str(model), backend="cpu", denoise_strength=2)
    # convert writes the model upscale runs: the blend by default, the file alone with denoise_strength=1.
    info = resr.convert(str(tmp_path / "blend.resr"), model_path=str(model))
    alone_info = resr.convert(str(tmp_path / "alone.resr"), model_path=str(model), denoise_strength=1)
    assert info["architecture"] == alone_info["architecture"]
    np.testing.assert_array_equal(resr.Upscaler(model_path=str(tmp_path / "blend.resr"), backend="cpu").upscale(pixels),
                                  out)
    np.testing.assert_array_equal(
        resr.Upscaler(model_path=str(tmp_path / "alone.resr"), backend="cpu").upscale(pixels), alone.upscale(pixels))
    # A converted pair keeps its names: the blend convert wrote is not blended with its twin again (0.25 / 0.75).
    pair = tmp_path / "pair"
    pair.mkdir()
    resr.convert(str(pair / "realesr-general-x4v3.resr"), model_path=str(model))
    resr.convert(str(pair / "realesr-general-wdn-x4v3.resr"), model_path=str(twin))
    compiled = resr.Upscaler(model_path=str(pair / "realesr-general-x4v3.resr"), backend="cpu")
    assert compiled.denoise_model == ""
    np.testing.assert_array_equal(compiled.upscale(pixels), out)


def test_paths_with_a_null_byte_and_model_options_of_the_wrong_kind(pixels, tmp_path):
    # A NUL would end the file name in the library: "x.png\0.jpg" was written as JPEG bytes to x.png.
    with pytest.raises(ValueError, match="embedded null byte"):
        resr.write_image(str(tmp_path / "x.png") + "\0.jpg", pixels)
    assert not (tmp_path / "x.png").exists()
    with pytest.raises(ValueError, match="embedded null byte"):
        resr.read_image(IN_PNG + "\0junk")
    with pytest.raises(ValueError, match="embedded null byte"):
        resr.Upscaler(model="x4fast\0", backend="cpu")
    # The library's own words, not the CLI's -n / -m.
    with pytest.raises(resr.Error, match="is a folder, not a model file"):
        resr.Upscaler(model_path=str(tmp_path), backend="cpu")
    with pytest.raises(resr.Error, match="folder not found"):
        resr.Upscaler(model="x4fast", model_dir=str(tmp_path / "none"), backend="cpu")
    with pytest.raises(resr.Error, match="no model given: set model"):
        resr.Upscaler(backend="cpu")
    with pytest.raises(resr.Error, match="scale must be in"):
        resr.Upscaler(model="x4fast", backend="cpu", scale=1e-9)
    # Options the CLI refuses together are refused here too, not one of them silently dropped.
    with pytest.raises(resr.Error, match="set one of them"):
        resr.Upscaler(model="x4plus", model_path=os.path.join(DATA, "fixtures", "srvgg_x4_prelu.safetensors"), backend="cpu")
    with pytest.raises(resr.Error, match="scale and width/height: set one of them"):
        resr.Upscaler(model="x4fast", backend="cpu", scale=2, width=100)
    with pytest.raises(resr.Error, match="set one of them"):
        resr.convert(str(tmp_path / "x.resr"), model="x4plus", model_path=os.path.join(DATA, "fixtures", "srvgg_x4_prelu.safetensors"))


def test_model_and_table_paths_take_pathlib_and_bytes(pixels, tmp_path):
    # They took str alone: a pathlib.Path was a TypeError listing the whole signature.
    import pathlib
    fixture = pathlib.Path(DATA) / "fixtures" / "srvgg_x4_prelu.safetensors"
    up = resr.Upscaler(model_path=fixture, backend="cpu")
    assert up.model_scale == 4
    assert resr.Upscaler(model="srvgg_x4_prelu", model_dir=os.fsencode(fixture.parent), backend="cpu").model_scale == 4
    table = tmp_path / "t.calib"
    resr.calibrate(pathlib.Path(IN_PNG), table, model_path=fixture, tiles=1, tile=16, method="minmax")
    assert table.exists()
    out = tmp_path / "m.resr"
    resr.convert(out, model_path=fixture, precision="int8", calib=table)
    assert resr.Upscaler(model_path=out, backend="cpu").model_scale == 4
    with pytest.raises(ValueError, match="embedded null byte"):
        resr.Upscaler(model_path=str(fixture) + "\0.x", backend="cpu")
    with pytest.raises(TypeError):
        resr.Upscaler(model_path=3, backend="cpu")


def test_what_a_format_cannot_hold_is_warned(pixels, tmp_path):
    # A uint16 array written as WebP (lossless too) or JPEG came back as uint8, and JPEG dropped alpha, unsaid.
    wide = pixels.astype(np.uint16) * 257
    with pytest.warns(UserWarning, match=r"w\.webp: written with 8 bits a sample \(WebP holds no more"):
        resr.write_image(tmp_path / "w.webp", wide, lossless=True)
    rgba = np.dstack([pixels, np.full(pixels.shape[:2], 200, np.uint8)])
    with pytest.warns(UserWarning, match="the alpha channel is left out"):
        resr.write_image(tmp_path / "a.jpg", rgba)
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        resr.write_image(tmp_path / "w.png", wide)  # PNG holds both: no warning
        resr.write_image(tmp_path / "a.webp", rgba)
        with pytest.raises(UserWarning):  # a filter of "error": raised before anything is written
            resr.write_image(tmp_path / "never.jpg", wide)
    assert not (tmp_path / "never.jpg").exists()


def test_arrays_that_went_through_pickle_are_pixels(up, pixels):
    # An unpickled array (what multiprocessing hands a worker) has a dtype object of its own: it was refused as
    # "expected uint8 or uint16 pixels, got uint8".
    import pickle
    copy = pickle.loads(pickle.dumps(pixels))
    assert np.array_equal(up.upscale(copy), up.upscale(pixels))
    wide = pickle.loads(pickle.dumps(pixels.astype(np.uint16) * 257))
    assert up.upscale(wide).dtype == np.uint16
    assert resr.psnr(copy, pixels) == float("inf")
    with pytest.raises(TypeError, match="expected uint8 or uint16 pixels, got int8"):
        up.upscale(pixels.astype(np.int8))


def test_a_huge_view_is_refused_before_it_is_copied(up):
    view = np.broadcast_to(np.uint8(7), (16384, 16400, 3))  # 2^28 + pixels, no memory of its own
    with pytest.raises(ValueError, match="exceeds the limit of 268435456 pixels"):
        up.upscale(view)


def test_a_view_whose_output_is_too_large_is_refused_before_it_is_copied(up):
    # 16000x16000 is within the input limit; its x4 output is not. The 768 MB copy was made before the refusal.
    import tracemalloc
    view = np.broadcast_to(np.uint8(7), (16000, 16000, 3))
    tracemalloc.start()
    try:
        with pytest.raises(resr.Error, match="output size 64000x64000 .* exceeds the limit"):
            up.upscale(view)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 64 << 20


def test_convert_and_calibrate_take_the_activation(tmp_path):
    path = os.path.join(DATA, "fixtures", "srvgg_x1_leakyrelu.pth")
    assumed = resr.convert(str(tmp_path / "relu.resr"), model_path=path)
    assert assumed["activation_assumed"]
    leaky = resr.convert(str(tmp_path / "leaky.resr"), model_path=path, activation="leakyrelu")
    assert not leaky["activation_assumed"]
    pixels = resr.read_image(IN_PNG)
    np.testing.assert_array_equal(
        resr.Upscaler(model_path=str(tmp_path / "leaky.resr"), backend="cpu").upscale(pixels),
        resr.Upscaler(model_path=path, backend="cpu", activation="leakyrelu").upscale(pixels))
    table = resr.calibrate(IN_PNG, str(tmp_path / "t.calib"), model_path=path, tiles=1, tile=16,
                           activation="leakyrelu")
    assert not table["activation_assumed"]
    with pytest.raises(resr.Error, match="activation must be"):
        resr.convert(str(tmp_path / "x.resr"), model_path=path, activation="gelu")
    assert not (tmp_path / "x.resr").exists()
