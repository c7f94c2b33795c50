//! LOLWUT [VERSION v [args...]]: Redis's art for versions 5 and 6, its bare version line
//! for every other version (the default is the server's own major version, 7, which has no
//! art in Redis 7.2, so a plain LOLWUT answers "Redis ver. x.y.z").
//!
//! Both pieces are random drawings, so only their shape is fixed: the size arguments, how
//! they are clamped, the number and width of the lines, the cell and character encodings
//! and the closing credits. The drawings are ours:
//!
//! * 5, after Georg Nees's "Schotter": a grid of squares, straight in the first row and
//!   more and more rotated and displaced further down, drawn on a pixel canvas of
//!   `cols * 2` pixels across and rendered in braille characters (a 2x4 pixel block each).
//!   Arguments: columns (1..1000, default 66), squares per row and per column (1..200,
//!   defaults 8 and 12).
//! * 6, a city skyline in four grey levels, each cell a space with ANSI colours.
//!   Arguments: columns and rows (1..1000, defaults 80 and 20).

use rand::Rng;

use crate::command::args::{eq, int};
use crate::command::{CmdResult, Ctx, Error};

pub fn lolwut(ctx: &mut Ctx) -> CmdResult {
    let mut version = crate::REDIS_VERSION.split('.').next().and_then(|v| v.parse::<i64>().ok()).unwrap_or(7);
    if ctx.args.len() > 2 && eq(ctx.args[1], "version") {
        version = int(ctx.args[2])?;
    }
    // The art's own arguments follow VERSION v.
    let arg = |i: usize, default: i64, max: i64| -> Result<usize, Error> {
        let v = match ctx.args.get(3 + i) {
            Some(a) => int(a)?,
            None => default,
        };
        Ok(v.clamp(1, max) as usize)
    };
    let credit = format!("Redis ver. {}", crate::REDIS_VERSION);
    let text = match version {
        5 => {
            let (cols, per_row, per_col) = (arg(0, 66, 1000)?, arg(1, 8, 200)?, arg(2, 12, 200)?);
            let mut s = schotter(cols, per_row, per_col);
            s.push_str("\nGeorg Nees - schotter, plotter on paper, 1968. ");
            s.push_str(&credit);
            s.push('\n');
            s
        }
        6 => {
            let (cols, rows) = (arg(0, 80, 1000)?, arg(1, 20, 1000)?);
            let mut s = skyline(cols, rows);
            s.push_str("Dedicated to the 8 bit game developers of past and present.\n");
            s.push_str("Original 8 bit image from Plaguemon by hikikomori. ");
            s.push_str(&credit);
            s.push('\n');
            s
        }
        _ => format!("{credit}\n"),
    };
    ctx.out.verbatim("txt", text.as_bytes());
    Ok(())
}

/// A canvas of on/off pixels.
struct Canvas {
    width: usize,
    height: usize,
    pixels: Vec<bool>,
}

impl Canvas {
    fn new(width: usize, height: usize) -> Canvas {
        Canvas { width, height, pixels: vec![false; width * height] }
    }

    fn set(&mut self, x: i64, y: i64) {
        if x >= 0 && y >= 0 && (x as usize) < self.width && (y as usize) < self.height {
            self.pixels[y as usize * self.width + x as usize] = true;
        }
    }

    fn get(&self, x: usize, y: usize) -> bool {
        x < self.width && y < self.height && self.pixels[y * self.width + x]
    }

    /// Bresenham's line from (x0, y0) to (x1, y1).
    fn line(&mut self, (mut x0, mut y0): (i64, i64), (x1, y1): (i64, i64)) {
        let (dx, dy) = ((x1 - x0).abs(), -(y1 - y0).abs());
        let (sx, sy) = (if x0 < x1 { 1 } else { -1 }, if y0 < y1 { 1 } else { -1 });
        let mut e = dx + dy;
        loop {
            self.set(x0, y0);
            if x0 == x1 && y0 == y1 {
                break;
            }
            let e2 = 2 * e;
            if e2 >= dy {
                e += dy;
                x0 += sx;
            }
            if e2 <= dx {
                e += dx;
                y0 += sy;
            }
        }
    }

    /// One braille character per 2x4 block, one line per 4 pixel rows.
    fn braille(&self) -> String {
        // The dot bit of each pixel of a block, by (row, column).
        const DOTS: [[u32; 2]; 4] = [[0x01, 0x08], [0x02, 0x10], [0x04, 0x20], [0x40, 0x80]];
        let mut s = String::new();
        for y in (0..self.height).step_by(4) {
            for x in (0..self.width).step_by(2) {
                let mut bits = 0;
                for (dy, row) in DOTS.iter().enumerate() {
                    for (dx, bit) in row.iter().enumerate() {
                        if self.get(x + dx, y + dy) {
                            bits |= bit;
                        }
                    }
                }
                s.push(char::from_u32(0x2800 + bits).unwrap_or(' '));
            }
            // Redis ends a line with a newline unless the block row starts on the canvas's
            // last pixel row (then the caption's own leading newline ends it).
            if y != self.height - 1 {
                s.push('\n');
            }
        }
        s
    }
}

fn schotter(cols: usize, per_row: usize, per_col: usize) -> String {
    let width = cols * 2;
    let padding = if width > 4 { 2 } else { 0 };
    let side = (width - 2 * padding) as f32 / per_row as f32;
    let height = (side * per_col as f32) as usize + 2 * padding;
    let mut canvas = Canvas::new(width, height);
    let mut rng = rand::thread_rng();
    // A square of side `side` turned by `angle` about its centre has its corners at
    // `side / sqrt 2` from it, at 45 degrees plus the angle and then every quarter turn; the
    // centres and that distance are whole pixels (which is how the first, straight row of
    // Redis's drawing lines up).
    let reach = (side / std::f32::consts::SQRT_2).round();
    for row in 0..per_col {
        // The disorder grows from none in the first row to its most in the last.
        let disorder = row as f32 / per_col as f32;
        for col in 0..per_row {
            let shift = |r: &mut rand::rngs::ThreadRng| r.gen_range(-1.0f32..=1.0) * disorder * side / 3.0;
            let cx = (side * col as f32 + side / 2.0 + padding as f32 + shift(&mut rng)) as i64;
            let cy = (side * row as f32 + side / 2.0 + padding as f32 + shift(&mut rng)) as i64;
            let angle = rng.gen_range(-1.0f32..=1.0) * disorder * std::f32::consts::FRAC_PI_4;
            let corner = |j: usize| {
                let k = std::f32::consts::FRAC_PI_4 + angle + j as f32 * std::f32::consts::FRAC_PI_2;
                ((k.sin() * reach + cx as f32).round() as i64, (k.cos() * reach + cy as f32).round() as i64)
            };
            for j in 0..4 {
                canvas.line(corner(j), corner((j + 1) % 4));
            }
        }
    }
    canvas.braille()
}

/// The four grey levels, darkest first, as ANSI foreground;background codes.
const GREYS: [&str; 4] = ["0;30;40", "0;90;100", "0;37;47", "0;97;107"];

fn skyline(cols: usize, rows: usize) -> String {
    const SKY: u8 = 3;
    let mut rng = rand::thread_rng();
    let mut grid = vec![SKY; cols * rows];
    // The top row is always sky, as in Redis's picture (a one-row picture is all sky).
    // A few clouds in the upper part of the sky.
    if rows > 2 {
        for _ in 0..(cols / 20).max(1) {
            let (w, y) = (rng.gen_range(4..=12), rng.gen_range(1..=rows.div_ceil(3)));
            let x0 = rng.gen_range(0..cols);
            for x in x0..(x0 + w).min(cols) {
                grid[y * cols + x] = 2;
            }
        }
    }
    // Back then front: buildings of random width and height standing on the bottom row;
    // the front ones have rows of lit windows.
    for (shade, tallest) in [(1u8, rows * 3 / 4), (0u8, rows / 2)] {
        let tallest = tallest.min(rows - 1);
        if tallest == 0 {
            continue;
        }
        let mut x = rng.gen_range(0..4);
        while x < cols {
            let w = rng.gen_range(5..=16);
            let h = rng.gen_range(1..=tallest);
            for y in rows - h..rows {
                for cx in x..(x + w).min(cols) {
                    let inside = shade == 0 && y > rows - h && (y - (rows - h)).is_multiple_of(2) && (cx - x) % 4 >= 2;
                    grid[y * cols + cx] = if inside && cx + 1 < x + w { rng.gen_range(1..=2) } else { shade };
                }
            }
            x += w + rng.gen_range(0..6);
        }
    }
    let mut s = String::with_capacity(cols * rows * 20);
    for row in grid.chunks(cols) {
        for &g in row {
            s.push_str("\x1b[");
            s.push_str(GREYS[g as usize]);
            s.push_str("m \x1b[0m");
        }
        s.push('\n');
    }
    s
}
