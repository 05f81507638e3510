//! The digest's chart: complaints per day (bars, left axis) and the median time to the first
//! public reply of that day's cases (line, right axis, minutes), drawn with `plotters` into an
//! RGB buffer and encoded as PNG in memory.
//!
//! Text is drawn with `ab_glyph` from DejaVu Sans, embedded in the binary (`assets/fonts`, with
//! its licence), so rendering needs no system fonts. Pure apart from registering the font once.

use std::sync::OnceLock;

use plotters::prelude::*;
use plotters::style::FontStyle;

/// DejaVu Sans (Bitstream Vera licence, see `assets/fonts/DejaVuSans-LICENSE`).
static FONT: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");
/// The family name the chart asks plotters for.
const FAMILY: &str = "sans-serif";

/// Default width of the chart, in pixels.
pub const WIDTH: u32 = 1200;
/// Default height of the chart, in pixels.
pub const HEIGHT: u32 = 600;

const BAR: RGBColor = RGBColor(79, 129, 189);
const LINE: RGBColor = RGBColor(214, 96, 77);

/// One day of the chart.
#[derive(Debug, Clone, PartialEq)]
pub struct Day {
    /// The label under the bar (e.g. `Mon 16`).
    pub label: String,
    /// Complaints opened that day.
    pub complaints: u64,
    /// Median time to the first public reply of that day's cases, in seconds.
    pub median_response_secs: Option<i64>,
}

/// Why the chart could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ChartError {
    /// plotters failed (font, drawing).
    #[error("cannot draw the chart: {0}")]
    Draw(String),
    /// The PNG encoder failed.
    #[error("cannot encode the chart: {0}")]
    Encode(String),
}

fn register_font() -> Result<(), ChartError> {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    let ok = *REGISTERED.get_or_init(|| {
        [FontStyle::Normal, FontStyle::Bold]
            .into_iter()
            .all(|style| plotters::style::register_font(FAMILY, style, FONT).is_ok())
    });
    if ok {
        Ok(())
    } else {
        Err(ChartError::Draw("the embedded font does not load".into()))
    }
}

fn draw_error(error: impl std::fmt::Display) -> ChartError {
    ChartError::Draw(error.to_string())
}

/// The chart of `days` as a `width`×`height` PNG.
pub fn render(title: &str, days: &[Day], width: u32, height: u32) -> Result<Vec<u8>, ChartError> {
    register_font()?;
    let mut rgb = vec![255u8; width as usize * height as usize * 3];
    {
        let root = BitMapBackend::with_buffer(&mut rgb, (width, height)).into_drawing_area();
        root.fill(&WHITE).map_err(draw_error)?;
        let most = days.iter().map(|day| day.complaints).max().unwrap_or(0);
        let y_max = (most + most / 5).max(4) as f64;
        let longest = days
            .iter()
            .filter_map(|day| day.median_response_secs)
            .max()
            .unwrap_or(0) as f64
            / 60.0;
        let minutes_max = (longest * 1.2).max(10.0);
        let count = days.len().max(1);

        let mut chart = ChartBuilder::on(&root)
            .caption(title, (FAMILY, 28).into_font())
            .margin(20)
            .x_label_area_size(50)
            .y_label_area_size(70)
            .right_y_label_area_size(80)
            .build_cartesian_2d(0f64..count as f64, 0f64..y_max)
            .map_err(draw_error)?
            .set_secondary_coord(0f64..count as f64, 0f64..minutes_max);
        let label_of = |x: &f64| {
            let index = x.floor() as usize;
            if (x - x.floor() - 0.5).abs() < 1e-6 {
                days.get(index)
                    .map(|day| day.label.clone())
                    .unwrap_or_default()
            } else {
                String::new()
            }
        };
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(count * 2 + 1)
            .x_label_formatter(&label_of)
            .y_label_formatter(&|y: &f64| format!("{y:.0}"))
            .y_desc("complaints")
            .label_style((FAMILY, 16))
            .axis_desc_style((FAMILY, 18))
            .draw()
            .map_err(draw_error)?;
        chart
            .configure_secondary_axes()
            .y_label_formatter(&|y: &f64| format!("{y:.0}"))
            .y_desc("median first reply (minutes)")
            .label_style((FAMILY, 16))
            .axis_desc_style((FAMILY, 18))
            .draw()
            .map_err(draw_error)?;
        chart
            .draw_series(days.iter().enumerate().map(|(index, day)| {
                let x = index as f64;
                Rectangle::new(
                    [(x + 0.15, 0.0), (x + 0.85, day.complaints as f64)],
                    BAR.filled(),
                )
            }))
            .map_err(draw_error)?
            .label("complaints")
            .legend(|(x, y)| Rectangle::new([(x, y - 6), (x + 16, y + 6)], BAR.filled()));
        let points: Vec<(f64, f64)> = days
            .iter()
            .enumerate()
            .filter_map(|(index, day)| {
                day.median_response_secs
                    .map(|secs| (index as f64 + 0.5, secs as f64 / 60.0))
            })
            .collect();
        chart
            .draw_secondary_series(LineSeries::new(
                points.iter().copied(),
                LINE.stroke_width(3),
            ))
            .map_err(draw_error)?
            .label("median first reply")
            .legend(|(x, y)| PathElement::new([(x, y), (x + 16, y)], LINE.stroke_width(3)));
        chart
            .draw_secondary_series(
                points
                    .iter()
                    .map(|&point| Circle::new(point, 5, LINE.filled())),
            )
            .map_err(draw_error)?;
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .label_font((FAMILY, 16))
            .draw()
            .map_err(draw_error)?;
        root.present().map_err(draw_error)?;
    }
    encode(&rgb, width, height)
}

fn encode(rgb: &[u8], width: u32, height: u32) -> Result<Vec<u8>, ChartError> {
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, width, height);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder
        .write_header()
        .map_err(|error| ChartError::Encode(error.to_string()))?;
    writer
        .write_image_data(rgb)
        .map_err(|error| ChartError::Encode(error.to_string()))?;
    writer
        .finish()
        .map_err(|error| ChartError::Encode(error.to_string()))?;
    Ok(out)
}

/// The width and height in a PNG's header, if `bytes` start like a PNG.
pub fn png_size(bytes: &[u8]) -> Option<(u32, u32)> {
    const SIGNATURE: &[u8] = b"\x89PNG\r\n\x1a\n";
    if bytes.len() < 24 || &bytes[..8] != SIGNATURE || &bytes[12..16] != b"IHDR" {
        return None;
    }
    let word =
        |at: usize| u32::from_be_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]]);
    Some((word(16), word(20)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn week() -> Vec<Day> {
        [
            "Mon 16", "Tue 17", "Wed 18", "Thu 19", "Fri 20", "Sat 21", "Sun 22",
        ]
        .iter()
        .enumerate()
        .map(|(index, label)| Day {
            label: label.to_string(),
            complaints: [3, 7, 2, 0, 12, 1, 4][index],
            median_response_secs: [
                Some(600),
                Some(1800),
                None,
                None,
                Some(5400),
                Some(60),
                Some(900),
            ][index],
        })
        .collect()
    }

    #[test]
    fn the_chart_is_a_png_of_the_asked_size_that_decodes() {
        let bytes = render("Complaints and median first reply", &week(), WIDTH, HEIGHT).unwrap();
        assert_eq!(png_size(&bytes), Some((WIDTH, HEIGHT)));
        let decoder = png::Decoder::new(std::io::Cursor::new(&bytes));
        let mut reader = decoder.read_info().unwrap();
        let mut pixels = vec![0; reader.output_buffer_size()];
        let frame = reader.next_frame(&mut pixels).unwrap();
        assert_eq!((frame.width, frame.height), (WIDTH, HEIGHT));
        // Something was drawn in the bars' colour and in the line's.
        let has = |color: RGBColor| {
            pixels[..frame.buffer_size()]
                .chunks(3)
                .any(|px| px == [color.0, color.1, color.2])
        };
        assert!(has(BAR), "no bar drawn");
        assert!(has(LINE), "no line drawn");
    }

    #[test]
    fn an_empty_week_and_another_size_still_render() {
        let days: Vec<Day> = week()
            .into_iter()
            .map(|day| Day {
                complaints: 0,
                median_response_secs: None,
                ..day
            })
            .collect();
        let bytes = render("Quiet week", &days, 640, 320).unwrap();
        assert_eq!(png_size(&bytes), Some((640, 320)));
    }

    #[test]
    fn png_size_refuses_what_is_not_a_png() {
        assert_eq!(png_size(b"GIF89a............................"), None);
        assert_eq!(png_size(b""), None);
    }
}
