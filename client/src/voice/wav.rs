//! WAV file source and sink: shipped features (the CLI plays a file into a channel and
//! records one) that the tests also use in place of devices.

use std::collections::VecDeque;
use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use hound::{SampleFormat, WavReader, WavSpec, WavWriter};

use super::resample::StreamResampler;

use super::{FRAME_DURATION, FRAME_SAMPLES, Frame, SAMPLE_RATE};
use crate::error::{Error, Result};

/// How a [`WavSource`] delivers frames.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pacing {
    /// One frame per 10 ms of wall-clock time, as a microphone would.
    RealTime,
    /// As fast as they are asked for (tests, offline processing).
    AsFastAsPossible,
}

/// Reads a WAV file as internal-format frames: any rate (resampled to 48 kHz), any channel
/// count (downmixed by averaging), 8–32-bit integer or 32-bit float samples.
pub struct WavSource {
    path: PathBuf,
    reader: WavReader<BufReader<File>>,
    channels: usize,
    scale: f32,
    float: bool,
    pacing: Pacing,
    started: Option<Instant>,
    frames_read: u32,
    resampler: StreamResampler,
    /// Resampler start-up samples still to discard, so output is aligned with the file.
    skip: usize,
    /// 48 kHz samples still to deliver: the file's length at 48 kHz.
    remaining: u64,
    ready: VecDeque<f32>,
    input_done: bool,
    finished: bool,
}

impl WavSource {
    /// Opens a file.
    pub fn open(path: impl AsRef<Path>, pacing: Pacing) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        let reader =
            WavReader::open(&path).map_err(|source| Error::Wav { path: path.clone(), source })?;
        let spec = reader.spec();
        let unsupported = |reason: String| Error::UnsupportedWav { path: path.clone(), reason };
        if !(8_000..=384_000).contains(&spec.sample_rate) {
            return Err(unsupported(format!("{} Hz", spec.sample_rate)));
        }
        if spec.channels == 0 {
            return Err(unsupported("no channels".into()));
        }
        let float = match (spec.sample_format, spec.bits_per_sample) {
            (SampleFormat::Float, 32) => true,
            (SampleFormat::Int, 8..=32) => false,
            (format, bits) => return Err(unsupported(format!("{bits}-bit {format:?} samples"))),
        };
        let scale = if float { 1.0 } else { 1.0 / (1u64 << (spec.bits_per_sample - 1)) as f32 };
        let resampler = StreamResampler::new(spec.sample_rate, SAMPLE_RATE)?;
        let remaining =
            u64::from(reader.duration()) * u64::from(SAMPLE_RATE) / u64::from(spec.sample_rate);
        Ok(Self {
            skip: resampler.output_delay(),
            resampler,
            remaining,
            ready: VecDeque::new(),
            input_done: false,
            channels: usize::from(spec.channels),
            reader,
            scale,
            float,
            pacing,
            started: None,
            frames_read: 0,
            finished: false,
            path,
        })
    }

    /// Length of the file in internal frames (the last one padded with silence).
    pub fn len_frames(&self) -> usize {
        let samples = self.reader.duration() as usize;
        let at_48k =
            samples as u64 * u64::from(SAMPLE_RATE) / u64::from(self.reader.spec().sample_rate);
        usize::try_from(at_48k).unwrap_or(usize::MAX).div_ceil(FRAME_SAMPLES)
    }

    /// The next frame, or `None` at the end of the file. With [`Pacing::RealTime`] this
    /// sleeps until the frame is due.
    pub fn next_frame(&mut self) -> Result<Option<Frame>> {
        if self.finished {
            return Ok(None);
        }
        if self.pacing == Pacing::RealTime {
            let started = *self.started.get_or_insert_with(Instant::now);
            let due = started + FRAME_DURATION * self.frames_read;
            let now = Instant::now();
            if due > now {
                std::thread::sleep(due - now);
            }
        }
        while self.ready.len() < FRAME_SAMPLES && !self.input_done {
            let mut mono = Vec::with_capacity(FRAME_SAMPLES);
            self.read_mono(FRAME_SAMPLES, &mut mono)?;
            let mut resampled = Vec::with_capacity(2 * FRAME_SAMPLES);
            self.resampler.process(&mono, &mut resampled);
            if self.input_done {
                self.resampler.flush(&mut resampled);
            }
            let skip = self.skip.min(resampled.len());
            self.skip -= skip;
            self.ready.extend(&resampled[skip..]);
        }
        let available = u64::try_from(self.ready.len()).unwrap_or(u64::MAX);
        #[allow(clippy::cast_possible_truncation)]
        let n = available.min(self.remaining).min(FRAME_SAMPLES as u64) as usize;
        if n == 0 {
            self.finished = true;
            return Ok(None);
        }
        let mut frame = [0.0; FRAME_SAMPLES];
        for (slot, s) in frame.iter_mut().zip(self.ready.drain(..n)) {
            *slot = s;
        }
        self.remaining -= n as u64;
        self.frames_read = self.frames_read.saturating_add(1);
        Ok(Some(frame))
    }

    /// Reads up to `frames` sample frames from the file, downmixed, into `out`. Sets
    /// `input_done` at the end of the data.
    fn read_mono(&mut self, frames: usize, out: &mut Vec<f32>) -> Result<()> {
        let channels = self.channels;
        #[allow(clippy::cast_precision_loss)]
        let per_channel = 1.0 / channels as f32;
        for _ in 0..frames {
            let mut sum = 0.0;
            for _ in 0..channels {
                let sample = if self.float {
                    self.reader.samples::<f32>().next()
                } else {
                    #[allow(clippy::cast_precision_loss)]
                    self.reader.samples::<i32>().next().map(|r| r.map(|s| s as f32 * self.scale))
                };
                match sample {
                    Some(Ok(s)) => sum += s,
                    Some(Err(source)) => {
                        self.input_done = true;
                        return Err(Error::Wav { path: self.path.clone(), source });
                    }
                    None => {
                        self.input_done = true;
                        return Ok(());
                    }
                }
            }
            out.push(sum * per_channel);
        }
        Ok(())
    }

    /// Reads the rest of the file as one buffer of samples (tests, offline analysis).
    pub fn read_to_end(mut self) -> Result<Vec<f32>> {
        let mut out = Vec::with_capacity(self.len_frames() * FRAME_SAMPLES);
        while let Some(frame) = self.next_frame()? {
            out.extend_from_slice(&frame);
        }
        Ok(out)
    }
}

impl std::fmt::Debug for WavSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WavSource")
            .field("path", &self.path)
            .field("pacing", &self.pacing)
            .field("frames_read", &self.frames_read)
            .finish_non_exhaustive()
    }
}

/// Writes internal-format frames to a 48 kHz mono 16-bit WAV file.
pub struct WavSink {
    path: PathBuf,
    writer: WavWriter<std::io::BufWriter<File>>,
}

impl WavSink {
    /// Creates (or truncates) a file.
    pub fn create(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        let spec = WavSpec {
            channels: 1,
            sample_rate: SAMPLE_RATE,
            bits_per_sample: 16,
            sample_format: SampleFormat::Int,
        };
        let writer = WavWriter::create(&path, spec)
            .map_err(|source| Error::Wav { path: path.clone(), source })?;
        Ok(Self { path, writer })
    }

    /// Appends samples, clamped to full scale.
    pub fn write(&mut self, samples: &[f32]) -> Result<()> {
        for &s in samples {
            #[allow(clippy::cast_possible_truncation)]
            let v = (s.clamp(-1.0, 1.0) * 32767.0).round() as i16;
            self.writer
                .write_sample(v)
                .map_err(|source| Error::Wav { path: self.path.clone(), source })?;
        }
        Ok(())
    }

    /// Appends one frame.
    pub fn write_frame(&mut self, frame: &Frame) -> Result<()> {
        self.write(frame)
    }

    /// Completes the file's header. Dropping the sink does this too but cannot report errors.
    pub fn finalize(self) -> Result<()> {
        let path = self.path;
        self.writer.finalize().map_err(|source| Error::Wav { path, source })
    }

    /// How long the written audio is.
    pub fn duration(&self) -> Duration {
        super::samples_to_duration(u64::from(self.writer.duration()))
    }
}

impl std::fmt::Debug for WavSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WavSink").field("path", &self.path).finish_non_exhaustive()
    }
}
