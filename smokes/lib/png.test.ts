import { describe, expect, test } from "bun:test";
import { decodePng, encodePng, type Image, pixelVariety } from "./png.ts";

function image(width: number, height: number, px: (x: number, y: number) => [number, number, number]): Image {
  const rgba = new Uint8Array(width * height * 4);
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) rgba.set([...px(x, y), 255], (y * width + x) * 4);
  return { width, height, rgba };
}

describe("png", () => {
  test("decoding what the encoder wrote gives the pixels back, for each filter", () => {
    const img = image(17, 9, (x, y) => [(x * 13) & 255, (y * 29) & 255, (x * y) & 255]);
    for (const f of [0, 1, 2] as const) expect(decodePng(encodePng(img, f)).rgba).toEqual(img.rgba);
  });

  test("a blank image has one colour and no variance; a drawn one has both", () => {
    const blank = pixelVariety(decodePng(encodePng(image(40, 30, () => [255, 255, 255]))));
    expect(blank.colours).toBe(1);
    expect(blank.lumaStdDev).toBeLessThan(1e-6);
    const drawn = pixelVariety(image(40, 30, (x) => (x % 10 < 5 ? [0, 0, 0] : [250, 250, 250])));
    expect(drawn.colours).toBe(2);
    expect(drawn.lumaStdDev).toBeGreaterThan(100);
  });

  test("not a PNG is refused", () => {
    expect(() => decodePng(new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]))).toThrow("png: bad signature");
  });
});
