// y4m.mjs: writes a Y4M video for chromium's fake camera
// (--use-fake-device-for-media-stream --use-file-for-fake-video-capture=FILE)
// that shows a QR code, so the gate page's camera path runs for real in the
// browser tests. 640 x 480, 4:2:0 (C420jpeg): the luma plane carries the
// picture, both chroma planes are neutral (128), so it is grey scale.
// Chromium plays the file at its frame rate and loops it; the code shows for
// `codeFrames` frames, then `blankFrames` white ones, so a scanner sees the
// code come into view again on every loop.
import { writeFileSync } from 'node:fs';
import QRCode from 'qrcode';

export const WIDTH = 640;
export const HEIGHT = 480;
/** Light modules around the code: the QR standard's quiet zone. */
const QUIET = 4;

/** The code's modules: `size` and `dark(row, col)`, in alphanumeric mode when the text allows it, at level M. */
export function qrModules(text) {
  const alnum = /^[0-9A-Z $%*+\-./:]*$/.test(text);
  const q = QRCode.create(alnum ? [{ data: text, mode: 'alphanumeric' }] : text, { errorCorrectionLevel: 'M' });
  return { size: q.modules.size, version: q.version, dark: (r, c) => Boolean(q.modules.get(r, c)) };
}

/** The luma plane (one byte a pixel, 0 black) of the code centred on white, as large as whole pixels a module allow. */
export function qrLuma(text, width = WIDTH, height = HEIGHT) {
  const m = qrModules(text);
  const px = Math.floor(Math.min(width, height) / (m.size + 2 * QUIET));
  if (px < 2) throw new Error(`a ${m.size}-module code does not fit ${width}x${height} at 2 px a module`);
  const luma = new Uint8Array(width * height).fill(255);
  const x0 = Math.floor((width - m.size * px) / 2);
  const y0 = Math.floor((height - m.size * px) / 2);
  for (let r = 0; r < m.size; r++) {
    for (let c = 0; c < m.size; c++) {
      if (!m.dark(r, c)) continue;
      for (let y = 0; y < px; y++) luma.fill(0, (y0 + r * px + y) * width + x0 + c * px, (y0 + r * px + y) * width + x0 + (c + 1) * px);
    }
  }
  return { luma, px, modules: m.size, version: m.version };
}

/** The stream header: size, frame rate, progressive, square pixels, 4:2:0. */
export function y4mHeader(fps, width = WIDTH, height = HEIGHT) {
  return `YUV4MPEG2 W${width} H${height} F${fps}:1 Ip A1:1 C420jpeg\n`;
}

/**
 * Writes `file`: `codeFrames` frames of the code of `text`, then
 * `blankFrames` white frames, at `fps`. Returns what it drew.
 */
export function writeQrVideo(file, text, { fps = 5, codeFrames = 5, blankFrames = 15 } = {}) {
  const { luma, px, modules, version } = qrLuma(text);
  const blank = new Uint8Array(WIDTH * HEIGHT).fill(255);
  const chroma = Buffer.alloc((WIDTH / 2) * (HEIGHT / 2) * 2, 128);
  const marker = Buffer.from('FRAME\n');
  const parts = [Buffer.from(y4mHeader(fps))];
  for (let i = 0; i < codeFrames + blankFrames; i++) {
    parts.push(marker, Buffer.from(i < codeFrames ? luma : blank), chroma);
  }
  writeFileSync(file, Buffer.concat(parts));
  return { px, modules, version, frames: codeFrames + blankFrames };
}
