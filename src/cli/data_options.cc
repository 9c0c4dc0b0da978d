#include "cli/data_options.h"

namespace nibble::cli {

void DataFlags::Add(CLI::App* app) {
  app->add_option("--resize", resize, "resize images: N (shorter side) or WxH");
  app->add_option("--crop", crop, "center-crop images: N or WxH");
  app->add_option("--mean", mean, "per-channel mean, comma-separated (applied after scaling to [0,1])");
  app->add_option("--std", std, "per-channel std, comma-separated");
  app->add_option("--layout", layout, "nchw or nhwc");
  app->add_option("--channels", channels, "rgb or bgr");
  app->add_flag("--grayscale", grayscale, "convert images to one channel");
}

Preprocess DataFlags::ToPreprocess() const {
  Preprocess p;
  if (!resize.empty()) ParseResize(resize, &p);
  if (!crop.empty()) ParseCrop(crop, &p);
  if (!mean.empty()) p.mean = ParseFloatList(mean, "--mean");
  if (!std.empty()) p.stddev = ParseFloatList(std, "--std");
  p.layout = ParseLayout(layout);
  p.order = ParseChannelOrder(channels);
  p.grayscale = grayscale;
  ValidatePreprocess(p);
  return p;
}

}  // namespace nibble::cli
