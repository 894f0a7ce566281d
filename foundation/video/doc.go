// Package video writes and reads small mp4 videos with gocv (OpenCV's
// ffmpeg backend) and composes frames for people to look at: episodes,
// imagined-versus-real rollouts in reports; WritePNG writes lossless stills.
//
// Frames are RGB, row-major, w*h*3 bytes (the layout of episode.Episode
// frames); OpenCV's BGR order stays inside this package.
package video
