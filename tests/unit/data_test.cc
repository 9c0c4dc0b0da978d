// Datasets (.npy folders, image folders, IDX), preprocessing, sample selection
// and the progress line. Fixture files are written into a fresh temporary
// folder by each test; expected pixel values are worked out by hand.
#include <gtest/gtest.h>
#include <stb/stb_image_write.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>
#include <thread>

#include "base/npy.h"
#include "data/dataset_spec.h"
#include "data/file_bytes.h"
#include "data/idx_dataset.h"
#include "data/image_folder_dataset.h"
#include "data/npy_folder_dataset.h"
#include "data/progress.h"
#include "test_util.h"

namespace nibble {
namespace {

namespace fs = std::filesystem;
using testing::FloatTensor;

// The error message a call throws, or "<no error>".
template <class F>
std::string ErrorOf(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "<no error>";
}
#define EXPECT_ERROR_HAS(stmt, ...)                                                   \
  do {                                                                                \
    std::string msg_ = ErrorOf([&] { stmt; });                                        \
    for (const std::string& part_ : std::vector<std::string>{__VA_ARGS__})            \
      EXPECT_NE(msg_.find(part_), std::string::npos) << "missing '" << part_ << "' in: " << msg_; \
  } while (0)

class TempDirTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string templ = (fs::temp_directory_path() / "nibble_data_test_XXXXXX").string();
    ASSERT_NE(mkdtemp(templ.data()), nullptr);
    dir_ = templ;
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  // Path inside the temp dir; creates parent folders.
  std::string P(const std::string& rel) {
    fs::path p = fs::path(dir_) / rel;
    fs::create_directories(p.parent_path());
    return p.string();
  }
  std::string dir_;
};

void WriteBytes(const std::string& path, const std::vector<uint8_t>& b) {
  std::ofstream f(path, std::ios::binary);
  f.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
}

void WriteGz(const std::string& path, const std::vector<uint8_t>& b) {
  gzFile f = gzopen(path.c_str(), "wb");
  ASSERT_NE(f, nullptr);
  ASSERT_EQ(gzwrite(f, b.data(), static_cast<unsigned>(b.size())), static_cast<int>(b.size()));
  gzclose(f);
}

// rgb: h*w*3 bytes, top row first. 24-bit uncompressed BMP (rows bottom-up,
// each padded to 4 bytes), written by hand so the decoder is checked against
// an independent encoder.
void WriteBmp(const std::string& path, int w, int h, const std::vector<uint8_t>& rgb) {
  int row = (w * 3 + 3) / 4 * 4;
  uint32_t size = 54 + row * h;
  std::vector<uint8_t> b(size, 0);
  auto put32 = [&](int off, uint32_t v) {
    for (int i = 0; i < 4; ++i) b[off + i] = static_cast<uint8_t>(v >> (8 * i));
  };
  b[0] = 'B', b[1] = 'M';
  put32(2, size);
  put32(10, 54);
  put32(14, 40);
  put32(18, w);
  put32(22, h);
  b[26] = 1;   // planes
  b[28] = 24;  // bits per pixel
  put32(34, row * h);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      for (int c = 0; c < 3; ++c) b[54 + (h - 1 - y) * row + x * 3 + c] = rgb[(y * w + x) * 3 + (2 - c)];  // BGR
  WriteBytes(path, b);
}

void WritePng(const std::string& path, int w, int h, int comp, const std::vector<uint8_t>& px) {
  ASSERT_TRUE(stbi_write_png(path.c_str(), w, h, comp, px.data(), w * comp));
}

// IDX header + data.
std::vector<uint8_t> Idx(uint8_t type, std::vector<uint32_t> dims, const std::vector<uint8_t>& data) {
  std::vector<uint8_t> b = {0, 0, type, static_cast<uint8_t>(dims.size())};
  for (uint32_t d : dims)
    for (int s = 24; s >= 0; s -= 8) b.push_back(static_cast<uint8_t>(d >> s));
  b.insert(b.end(), data.begin(), data.end());
  return b;
}

float At(const Tensor& t, std::vector<int64_t> idx) {
  int64_t off = 0;
  for (size_t d = 0; d < idx.size(); ++d) off = off * t.dim(d) + idx[d];
  return t.data<float>()[off];
}

// ---------------------------------------------------------------------------
// Selection

TEST(DataSelect, FirstIndices) {
  EXPECT_EQ(FirstIndices(10, 3), (std::vector<int64_t>{0, 1, 2}));
  EXPECT_EQ(FirstIndices(2, 5), (std::vector<int64_t>{0, 1}));
  EXPECT_EQ(FirstIndices(4, -1), (std::vector<int64_t>{0, 1, 2, 3}));
  EXPECT_TRUE(FirstIndices(0, 3).empty());
}

TEST(DataSelect, RandomIndicesAreSeededDistinctSorted) {
  auto a = RandomIndices(1000, 50, 7), b = RandomIndices(1000, 50, 7), c = RandomIndices(1000, 50, 8);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
  ASSERT_EQ(a.size(), 50u);
  EXPECT_TRUE(std::is_sorted(a.begin(), a.end()));
  EXPECT_EQ(std::set<int64_t>(a.begin(), a.end()).size(), 50u);
  EXPECT_GE(a.front(), 0);
  EXPECT_LT(a.back(), 1000);
  EXPECT_EQ(RandomIndices(5, 10, 1), (std::vector<int64_t>{0, 1, 2, 3, 4}));
  // Pinned: a change here changes which samples every seeded calibration uses.
  EXPECT_EQ(RandomIndices(10, 3, 42), (std::vector<int64_t>{2, 3, 4}));
  EXPECT_EQ(RandomIndices(10, 3, 1), (std::vector<int64_t>{1, 5, 8}));
  auto huge = RandomIndices(int64_t{1} << 40, 4, 3);  // cost is O(n), not O(size)
  EXPECT_EQ(huge.size(), 4u);
}

// ---------------------------------------------------------------------------
// .npy folders

class NpyDatasetTest : public TempDirTest {};

TEST_F(NpyDatasetTest, SortedFilesOneSampleEach) {
  WriteNpy(P("d/b.npy"), FloatTensor({1, 2}, {3, 4}));
  WriteNpy(P("d/a.npy"), FloatTensor({1, 2}, {1, 2}));
  WriteNpy(P("d/c.npy"), FloatTensor({1, 2}, {5, 6}));
  WriteBytes(P("d/notes.txt"), {'x'});
  WriteBytes(P("d/.hidden.npy"), {'x'});  // would fail to parse if read
  auto ds = OpenDataset({P("d")}, Preprocess{});
  ASSERT_EQ(ds->size(), 3);
  EXPECT_FALSE(ds->has_labels());
  for (int i = 0; i < 3; ++i) {
    Sample s = ds->Get(i);
    ASSERT_EQ(s.inputs.size(), 1u);
    EXPECT_EQ(s.inputs[0].first, "");
    EXPECT_EQ(s.inputs[0].second.shape(), (Shape{1, 2}));
    EXPECT_EQ(s.inputs[0].second.data<float>()[0], 1 + 2 * i);
    EXPECT_EQ(s.inputs[0].second.data<float>()[1], 2 + 2 * i);
    EXPECT_EQ(s.label, -1);
  }
  EXPECT_NE(ds->Describe(1).find("b.npy"), std::string::npos);
  EXPECT_ERROR_HAS(ds->Get(3), "index 3", "3 samples");
  EXPECT_ERROR_HAS(ds->Get(-1), "index -1");
}

TEST_F(NpyDatasetTest, BatchFilesSplitIntoRowsWithLeadingOne) {
  WriteNpy(P("d/x0.npy"), FloatTensor({4, 3}, {0, 1, 2, 10, 11, 12, 20, 21, 22, 30, 31, 32}));
  WriteNpy(P("d/x1.npy"), FloatTensor({1, 3}, {40, 41, 42}));
  Tensor labels(DType::kInt64, {5});
  for (int i = 0; i < 5; ++i) labels.data<int64_t>()[i] = 10 - i;
  WriteNpy(P("d/labels.npy"), labels);
  auto ds = OpenDataset({P("d")}, Preprocess{});
  ASSERT_EQ(ds->size(), 5);
  EXPECT_TRUE(ds->has_labels());
  for (int i = 0; i < 5; ++i) {
    Sample s = ds->Get(i);
    EXPECT_EQ(s.inputs[0].second.shape(), (Shape{1, 3}));
    EXPECT_EQ(s.inputs[0].second.data<float>()[0], 10 * i);
    EXPECT_EQ(s.inputs[0].second.data<float>()[2], 10 * i + 2);
    EXPECT_EQ(s.label, 10 - i);
  }
  EXPECT_NE(ds->Describe(2).find("x0.npy row 2"), std::string::npos) << ds->Describe(2);
  EXPECT_EQ(ds->Describe(4).find("row"), std::string::npos) << ds->Describe(4);
  EXPECT_NE(ds->Summary().find("5 samples in 2 files"), std::string::npos) << ds->Summary();
}

TEST_F(NpyDatasetTest, SingleFileAndPrefix) {
  Tensor t(DType::kUInt8, {3, 2, 2});
  for (int i = 0; i < 12; ++i) t.data<uint8_t>()[i] = static_cast<uint8_t>(i);
  WriteNpy(P("batch.npy"), t);
  for (const std::string& spec : {P("batch.npy"), "npy:" + P("batch.npy")}) {
    auto ds = OpenDataset({spec}, Preprocess{});
    ASSERT_EQ(ds->size(), 3);
    Sample s = ds->Get(2);
    EXPECT_EQ(s.inputs[0].second.dtype(), DType::kUInt8);  // stored type kept
    EXPECT_EQ(s.inputs[0].second.shape(), (Shape{1, 2, 2}));
    EXPECT_EQ(s.inputs[0].second.data<uint8_t>()[3], 11);
  }
}

TEST_F(NpyDatasetTest, MultiInputPairsByFileName) {
  for (int i = 0; i < 3; ++i) {
    WriteNpy(P("a/s" + std::to_string(i) + ".npy"), FloatTensor({1, 1}, {float(i)}));
    WriteNpy(P("b/s" + std::to_string(i) + ".npy"), FloatTensor({1, 2}, {float(100 + i), float(200 + i)}));
  }
  Tensor labels(DType::kInt32, {3, 1});  // int32 and [N,1] are accepted
  for (int i = 0; i < 3; ++i) labels.data<int32_t>()[i] = i * 3;
  WriteNpy(P("b/labels.npy"), labels);
  auto ds = OpenDataset({"x=" + P("a"), "y=" + P("b")}, Preprocess{});
  ASSERT_EQ(ds->size(), 3);
  for (int i = 0; i < 3; ++i) {
    Sample s = ds->Get(i);
    ASSERT_EQ(s.inputs.size(), 2u);
    EXPECT_EQ(s.inputs[0].first, "x");
    EXPECT_EQ(s.inputs[1].first, "y");
    EXPECT_EQ(s.inputs[0].second.data<float>()[0], i);
    EXPECT_EQ(s.inputs[1].second.shape(), (Shape{1, 2}));
    EXPECT_EQ(s.inputs[1].second.data<float>()[1], 200 + i);
    EXPECT_EQ(s.label, i * 3);
  }
  // A single named folder is fine too.
  auto one = OpenDataset({"x=" + P("a")}, Preprocess{});
  EXPECT_EQ(one->Get(0).inputs[0].first, "x");
}

TEST_F(NpyDatasetTest, MultiInputMismatchesAreClearErrors) {
  WriteNpy(P("a/s0.npy"), FloatTensor({1, 1}, {0}));
  WriteNpy(P("a/s1.npy"), FloatTensor({2, 1}, {0, 1}));
  WriteNpy(P("b/s0.npy"), FloatTensor({1, 1}, {0}));
  WriteNpy(P("b/t1.npy"), FloatTensor({2, 1}, {0, 1}));
  EXPECT_ERROR_HAS(OpenDataset({"x=" + P("a"), "y=" + P("b")}, Preprocess{}), "same file names", "s1.npy");
  WriteNpy(P("c/s0.npy"), FloatTensor({1, 1}, {0}));
  WriteNpy(P("c/s1.npy"), FloatTensor({3, 1}, {0, 1, 2}));
  EXPECT_ERROR_HAS(OpenDataset({"x=" + P("a"), "y=" + P("c")}, Preprocess{}), "s1.npy", "holds 3 samples", "holds 2");
  EXPECT_ERROR_HAS(OpenDataset({"x=" + P("a"), "x=" + P("c")}, Preprocess{}), "'x'", "twice");
  EXPECT_ERROR_HAS(OpenDataset({"x=" + P("a"), P("c")}, Preprocess{}), "NAME=DIR");
  EXPECT_ERROR_HAS(OpenDataset({"=" + P("a")}, Preprocess{}), "empty input name");
  EXPECT_ERROR_HAS(OpenDataset({"x=" + P("nope")}, Preprocess{}), "nope", "no such file");
}

TEST_F(NpyDatasetTest, BadLabelsAndFiles) {
  WriteNpy(P("d/a.npy"), FloatTensor({2, 1}, {0, 1}));
  Tensor three(DType::kInt64, {3});
  WriteNpy(P("d/labels.npy"), three);
  EXPECT_ERROR_HAS(OpenDataset({P("d")}, Preprocess{}), "labels.npy", "3 labels", "2 samples");
  WriteNpy(P("d/labels.npy"), FloatTensor({2}, {0, 1}));
  EXPECT_ERROR_HAS(OpenDataset({P("d")}, Preprocess{}), "labels.npy", "integers");

  WriteNpy(P("s/a.npy"), Tensor(DType::kFloat32, {}));
  EXPECT_ERROR_HAS(OpenDataset({P("s")}, Preprocess{}), "a.npy", "rank-0");

  WriteNpy(P("t/a.npy"), FloatTensor({4, 2}, {0, 1, 2, 3, 4, 5, 6, 7}));
  std::vector<uint8_t> bytes = ReadFileBytes(P("t/a.npy"));
  bytes.resize(bytes.size() - 4);
  WriteBytes(P("t/a.npy"), bytes);
  EXPECT_ERROR_HAS(OpenDataset({P("t")}, Preprocess{}), "a.npy", "shorter");
}

// ---------------------------------------------------------------------------
// Images

class ImageDatasetTest : public TempDirTest {};

// 2x2 RGB: (x,y) -> rows listed top to bottom.
const std::vector<uint8_t> k2x2 = {0, 51, 102, 153, 204, 255,  // y=0: (0,51,102) (153,204,255)
                                   10, 20, 30, 255, 0, 51};    // y=1: (10,20,30) (255,0,51)

TEST_F(ImageDatasetTest, BmpScaledNchwExact) {
  WriteBmp(P("img/a.bmp"), 2, 2, k2x2);
  Tensor t = LoadImage(P("img/a.bmp"), Preprocess{});
  ASSERT_EQ(t.shape(), (Shape{1, 3, 2, 2}));
  // out[c][y][x] = value / 255
  EXPECT_FLOAT_EQ(At(t, {0, 0, 0, 0}), 0.f);
  EXPECT_FLOAT_EQ(At(t, {0, 1, 0, 0}), 0.2f);
  EXPECT_FLOAT_EQ(At(t, {0, 2, 0, 0}), 0.4f);
  EXPECT_FLOAT_EQ(At(t, {0, 0, 0, 1}), 0.6f);
  EXPECT_FLOAT_EQ(At(t, {0, 1, 0, 1}), 0.8f);
  EXPECT_FLOAT_EQ(At(t, {0, 2, 0, 1}), 1.0f);
  EXPECT_FLOAT_EQ(At(t, {0, 0, 1, 0}), 10.f / 255);
  EXPECT_FLOAT_EQ(At(t, {0, 2, 1, 1}), 0.2f);

  Preprocess raw;
  raw.scale = false;
  Tensor r = LoadImage(P("img/a.bmp"), raw);
  EXPECT_EQ(At(r, {0, 1, 1, 0}), 20.f);
  EXPECT_EQ(At(r, {0, 0, 1, 1}), 255.f);
}

TEST_F(ImageDatasetTest, MeanStdBgrNhwc) {
  WriteBmp(P("a.bmp"), 2, 2, k2x2);
  Preprocess p;
  p.mean = {0.5f, 0.4f, 0.2f};
  p.stddev = {0.5f, 0.2f, 0.4f};
  Tensor t = LoadImage(P("a.bmp"), p);
  // pixel (0,0) = (0, .2, .4): R (0-.5)/.5 = -1, G (.2-.4)/.2 = -1, B (.4-.2)/.4 = .5
  EXPECT_NEAR(At(t, {0, 0, 0, 0}), -1.f, 1e-6);
  EXPECT_NEAR(At(t, {0, 1, 0, 0}), -1.f, 1e-6);
  EXPECT_NEAR(At(t, {0, 2, 0, 0}), 0.5f, 1e-6);
  // pixel (1,0) = (.6, .8, 1): R .2, G 2, B 2
  EXPECT_NEAR(At(t, {0, 0, 0, 1}), 0.2f, 1e-6);
  EXPECT_NEAR(At(t, {0, 1, 0, 1}), 2.f, 1e-6);
  EXPECT_NEAR(At(t, {0, 2, 0, 1}), 2.f, 1e-6);

  // BGR + NHWC: [1,H,W,C], channel 0 is blue; mean/std follow output order.
  p.order = ChannelOrder::kBGR;
  p.layout = Layout::kNHWC;
  p.mean = {0.2f, 0.4f, 0.5f};
  p.stddev = {0.4f, 0.2f, 0.5f};
  Tensor b = LoadImage(P("a.bmp"), p);
  ASSERT_EQ(b.shape(), (Shape{1, 2, 2, 3}));
  EXPECT_NEAR(At(b, {0, 0, 0, 0}), 0.5f, 1e-6);   // blue
  EXPECT_NEAR(At(b, {0, 0, 0, 2}), -1.f, 1e-6);   // red
  EXPECT_NEAR(At(b, {0, 0, 1, 1}), 2.f, 1e-6);    // (1,0) green
  EXPECT_NEAR(At(b, {0, 1, 1, 0}), (0.2f - 0.2f) / 0.4f, 1e-6);  // (1,1) blue = 51/255
  EXPECT_NEAR(At(b, {0, 1, 0, 2}), (10.f / 255 - 0.5f) / 0.5f, 1e-6);  // (0,1) red

  // One value for all channels.
  Preprocess one;
  one.mean = {0.5f};
  one.stddev = {0.25f};
  Tensor o = LoadImage(P("a.bmp"), one);
  EXPECT_NEAR(At(o, {0, 2, 0, 1}), 2.f, 1e-6);  // (1 - .5) / .25
  EXPECT_NEAR(At(o, {0, 1, 0, 0}), -1.2f, 1e-6);  // (.2 - .5) / .25
}

TEST_F(ImageDatasetTest, Grayscale) {
  WriteBmp(P("a.bmp"), 2, 2, k2x2);
  Preprocess p;
  p.grayscale = true;
  p.scale = false;
  Tensor t = LoadImage(P("a.bmp"), p);
  ASSERT_EQ(t.shape(), (Shape{1, 1, 2, 2}));
  // 0.299 R + 0.587 G + 0.114 B
  EXPECT_NEAR(At(t, {0, 0, 0, 0}), 0.587 * 51 + 0.114 * 102, 1e-3);        // 41.565
  EXPECT_NEAR(At(t, {0, 0, 1, 0}), 2.99 + 11.74 + 3.42, 1e-3);             // 18.15
  EXPECT_NEAR(At(t, {0, 0, 1, 1}), 0.299 * 255 + 0.114 * 51, 1e-3);        // 82.059
  // A gray PNG stays exact in grayscale, and is replicated to RGB otherwise.
  WritePng(P("g.png"), 2, 1, 1, {7, 200});
  Tensor g = LoadImage(P("g.png"), p);
  EXPECT_EQ(At(g, {0, 0, 0, 0}), 7.f);
  EXPECT_EQ(At(g, {0, 0, 0, 1}), 200.f);
  Preprocess rgb;
  rgb.scale = false;
  Tensor g3 = LoadImage(P("g.png"), rgb);
  ASSERT_EQ(g3.shape(), (Shape{1, 3, 1, 2}));
  for (int c = 0; c < 3; ++c) EXPECT_EQ(At(g3, {0, c, 0, 1}), 200.f);
  Preprocess bad = p;
  bad.mean = {0.1f, 0.2f, 0.3f};
  EXPECT_ERROR_HAS(LoadImage(P("g.png"), bad), "3 values", "grayscale");
}

TEST_F(ImageDatasetTest, PngRgbaDropsAlpha) {
  WritePng(P("a.png"), 1, 2, 4, {1, 2, 3, 0, 4, 5, 6, 255});
  Preprocess p;
  p.scale = false;
  Tensor t = LoadImage(P("a.png"), p);
  ASSERT_EQ(t.shape(), (Shape{1, 3, 2, 1}));
  EXPECT_EQ(At(t, {0, 0, 0, 0}), 1.f);
  EXPECT_EQ(At(t, {0, 2, 0, 0}), 3.f);
  EXPECT_EQ(At(t, {0, 1, 1, 0}), 5.f);
}

TEST_F(ImageDatasetTest, CenterCropRoundsLikeTorchvision) {
  // 6 wide, 5 high; red = 10*x + y.
  std::vector<uint8_t> px;
  for (int y = 0; y < 5; ++y)
    for (int x = 0; x < 6; ++x) px.insert(px.end(), {uint8_t(10 * x + y), 0, 0});
  WriteBmp(P("a.bmp"), 6, 5, px);
  Preprocess p;
  p.scale = false;
  // 6-3 = 3 -> left round(1.5) = 2; 5-2 = 3 -> top round(1.5) = 2.
  p.crop_width = 3;
  p.crop_height = 2;
  Tensor t = LoadImage(P("a.bmp"), p);
  ASSERT_EQ(t.shape(), (Shape{1, 3, 2, 3}));
  EXPECT_EQ(At(t, {0, 0, 0, 0}), 22.f);
  EXPECT_EQ(At(t, {0, 0, 1, 2}), 43.f);
  // 6-5 = 1 -> left round(0.5) = 0; 5-4 = 1 -> top 0 (half to even).
  p.crop_width = 5;
  p.crop_height = 4;
  t = LoadImage(P("a.bmp"), p);
  EXPECT_EQ(At(t, {0, 0, 0, 0}), 0.f);
  EXPECT_EQ(At(t, {0, 0, 3, 4}), 43.f);
  // 6-2 = 4 -> left 2; 5-1 = 4 -> top 2.
  p.crop_width = 2;
  p.crop_height = 1;
  t = LoadImage(P("a.bmp"), p);
  EXPECT_EQ(At(t, {0, 0, 0, 0}), 22.f);
  p.crop_width = 7;
  p.crop_height = 1;
  EXPECT_ERROR_HAS(LoadImage(P("a.bmp"), p), "a.bmp", "6x5", "smaller than the 7x1 crop");
}

TEST_F(ImageDatasetTest, ResizeBilinear) {
  Preprocess p;
  p.scale = false;
  // Upsampling 2x1 -> 4x1: half-pixel centres, edge clamped (= align_corners=False).
  WriteBmp(P("u.bmp"), 2, 1, {0, 0, 0, 200, 200, 200});
  ParseResize("4x1", &p);
  Tensor u = LoadImage(P("u.bmp"), p);
  ASSERT_EQ(u.shape(), (Shape{1, 3, 1, 4}));
  EXPECT_NEAR(At(u, {0, 0, 0, 0}), 0.f, 1e-3);
  EXPECT_NEAR(At(u, {0, 0, 0, 1}), 50.f, 1e-3);   // .75*0 + .25*200
  EXPECT_NEAR(At(u, {0, 0, 0, 2}), 150.f, 1e-3);  // .25*0 + .75*200
  EXPECT_NEAR(At(u, {0, 1, 0, 3}), 200.f, 1e-3);

  // Shrinking 4x2 -> shorter side 1 -> 2x1, with a triangle filter twice as wide (antialiasing).
  // Rows average to [20, 60, 100, 140]; out0 = .5*20 + .375*60 + .125*100 = 45, out1 = 115.
  std::vector<uint8_t> px;
  for (int v : {0, 40, 80, 120, 40, 80, 120, 160}) px.insert(px.end(), {uint8_t(v), uint8_t(v), uint8_t(v)});
  WriteBmp(P("d.bmp"), 4, 2, px);
  ParseResize("1", &p);
  Tensor d = LoadImage(P("d.bmp"), p);
  ASSERT_EQ(d.shape(), (Shape{1, 3, 1, 2}));
  EXPECT_NEAR(At(d, {0, 0, 0, 0}), 45.f, 1e-3);
  EXPECT_NEAR(At(d, {0, 2, 0, 1}), 115.f, 1e-3);

  // Shorter side keeps the aspect ratio, truncating like torchvision: 6x5 to 3 -> h=3, w = int(3.6) = 3.
  WriteBmp(P("r.bmp"), 6, 5, std::vector<uint8_t>(6 * 5 * 3, 9));
  ParseResize("3", &p);
  EXPECT_EQ(LoadImage(P("r.bmp"), p).shape(), (Shape{1, 3, 3, 3}));
  ParseResize("4", &p);  // h=4, w = 4*6/5 = 4.8 -> 4
  EXPECT_EQ(LoadImage(P("r.bmp"), p).shape(), (Shape{1, 3, 4, 4}));
  ParseResize("10", &p);  // h=10, w = 12
  Tensor big = LoadImage(P("r.bmp"), p);
  EXPECT_EQ(big.shape(), (Shape{1, 3, 10, 12}));
  EXPECT_NEAR(At(big, {0, 1, 7, 11}), 9.f, 1e-3);  // flat stays flat
  WriteBmp(P("portrait.bmp"), 5, 6, std::vector<uint8_t>(5 * 6 * 3, 9));
  EXPECT_EQ(LoadImage(P("portrait.bmp"), p).shape(), (Shape{1, 3, 12, 10}));  // w=10, h = 10*6/5

  // Resize then crop then normalize, NHWC.
  ParseResize("10", &p);
  ParseCrop("8x6", &p);
  p.scale = true;
  p.layout = Layout::kNHWC;
  p.mean = {9.f / 255};
  p.stddev = {2.f};
  Tensor all = LoadImage(P("r.bmp"), p);
  EXPECT_EQ(all.shape(), (Shape{1, 6, 8, 3}));
  EXPECT_NEAR(At(all, {0, 3, 3, 1}), 0.f, 1e-5);
}

TEST_F(ImageDatasetTest, JpegDecodes) {
  std::vector<uint8_t> px;
  for (int i = 0; i < 16 * 16; ++i) px.insert(px.end(), {200, 100, 50});
  ASSERT_TRUE(stbi_write_jpg(P("a.jpg").c_str(), 16, 16, 3, px.data(), 95));
  Preprocess p;
  p.scale = false;
  Tensor t = LoadImage(P("a.jpg"), p);
  ASSERT_EQ(t.shape(), (Shape{1, 3, 16, 16}));
  EXPECT_NEAR(At(t, {0, 0, 8, 8}), 200.f, 4.f);  // lossy
  EXPECT_NEAR(At(t, {0, 2, 8, 8}), 50.f, 4.f);
}

TEST_F(ImageDatasetTest, ImageFolderLabelsAndOrder) {
  WriteBmp(P("root/dog/c.bmp"), 1, 1, {3, 3, 3});
  WriteBmp(P("root/cat/b.bmp"), 1, 1, {2, 2, 2});
  WritePng(P("root/cat/a.png"), 1, 1, 3, {1, 1, 1});
  WritePng(P("root/cat/sub/0.png"), 1, 1, 3, {4, 4, 4});  // after cat/*: folder order first
  WritePng(P("root/ant/Z.PNG"), 1, 1, 3, {0, 0, 0});       // extension case ignored
  WriteBytes(P("root/cat/notes.txt"), {'x'});
  WriteBytes(P("root/cat/.hidden.png"), {'x'});
  WriteBytes(P("root/.git/x.png"), {'x'});
  for (const std::string& spec : {P("root"), "images:" + P("root")}) {
    auto ds = OpenDataset({spec}, Preprocess{});
    ASSERT_EQ(ds->size(), 5);
    EXPECT_TRUE(ds->has_labels());
    EXPECT_EQ(ds->class_names(), (std::vector<std::string>{"ant", "cat", "dog"}));
    const int64_t labels[] = {0, 1, 1, 1, 2};
    const float red[] = {0, 1, 2, 4, 3};
    for (int i = 0; i < 5; ++i) {
      Sample s = ds->Get(i);
      EXPECT_EQ(s.label, labels[i]) << ds->Describe(i);
      EXPECT_FLOAT_EQ(At(s.inputs[0].second, {0, 0, 0, 0}), red[i] / 255) << ds->Describe(i);
    }
    EXPECT_NE(ds->Describe(3).find("sub/0.png"), std::string::npos);
  }
}

TEST_F(ImageDatasetTest, FlatFolderIsUnlabelled) {
  WritePng(P("flat/b.png"), 1, 1, 3, {2, 2, 2});
  WritePng(P("flat/a.png"), 1, 1, 3, {1, 1, 1});
  auto ds = OpenDataset({P("flat")}, Preprocess{});
  ASSERT_EQ(ds->size(), 2);
  EXPECT_FALSE(ds->has_labels());
  EXPECT_EQ(ds->Get(0).label, -1);
  EXPECT_FLOAT_EQ(At(ds->Get(1).inputs[0].second, {0, 0, 0, 0}), 2.f / 255);
}

TEST_F(ImageDatasetTest, BadFoldersAndImages) {
  EXPECT_ERROR_HAS(OpenDataset({P("missing")}, Preprocess{}), "missing", "no such file");
  EXPECT_ERROR_HAS(OpenDataset({"images:" + P("missing")}, Preprocess{}), "missing", "no such folder");
  fs::create_directories(P("empty"));
  EXPECT_ERROR_HAS(OpenDataset({P("empty")}, Preprocess{}), "empty", "no .npy files and no images");
  EXPECT_ERROR_HAS(OpenDataset({"images:" + P("empty")}, Preprocess{}), "empty", "no images");

  WritePng(P("c/cat/a.png"), 1, 1, 3, {1, 1, 1});
  fs::create_directories(P("c/dog/x"));
  EXPECT_ERROR_HAS(OpenDataset({P("c")}, Preprocess{}), "dog", "class folder holds no images");

  WritePng(P("m/a.png"), 1, 1, 3, {1, 1, 1});
  WritePng(P("m/cat/b.png"), 1, 1, 3, {1, 1, 1});
  EXPECT_ERROR_HAS(OpenDataset({P("m")}, Preprocess{}), "both images", "sub-folders");

  WriteBytes(P("bad/x/broken.png"), {0x89, 'P', 'N', 'G', 1, 2, 3, 4, 5, 6});
  auto ds = OpenDataset({P("bad")}, Preprocess{});
  EXPECT_ERROR_HAS(ds->Get(0), "broken.png", "cannot decode");

  WritePng(P("t/x/whole.png"), 8, 8, 3, std::vector<uint8_t>(8 * 8 * 3, 77));
  std::vector<uint8_t> png = ReadFileBytes(P("t/x/whole.png"));
  png.resize(png.size() / 2);
  WriteBytes(P("t/x/whole.png"), png);
  EXPECT_ERROR_HAS(OpenDataset({P("t")}, Preprocess{})->Get(0), "whole.png", "cannot decode");

  WriteBytes(P("e/x/empty.jpg"), {});
  EXPECT_ERROR_HAS(OpenDataset({P("e")}, Preprocess{})->Get(0), "empty.jpg");

  WritePng(P("single.png"), 1, 1, 3, {1, 1, 1});
  EXPECT_ERROR_HAS(OpenDataset({P("single.png")}, Preprocess{}), "single image");

  WritePng(P("both/a.png"), 1, 1, 3, {1, 1, 1});
  WriteNpy(P("both/a.npy"), FloatTensor({1}, {1}));
  EXPECT_ERROR_HAS(OpenDataset({P("both")}, Preprocess{}), "both .npy files and images", "npy:", "images:");
  EXPECT_ERROR_HAS(OpenDataset({"x=" + P("flat_missing")}, Preprocess{}), "no such file");
  WritePng(P("imgs/a.png"), 1, 1, 3, {1, 1, 1});
  EXPECT_ERROR_HAS(OpenDataset({"x=" + P("imgs")}, Preprocess{}), "NAME=PATH needs", ".npy");
}

TEST(ImagePreprocessOptions, ParseAndValidate) {
  Preprocess p;
  ParseResize("256", &p);
  EXPECT_EQ(p.resize_shorter, 256);
  ParseResize("320x240", &p);
  EXPECT_EQ(p.resize_shorter, 0);
  EXPECT_EQ(p.resize_width, 320);
  EXPECT_EQ(p.resize_height, 240);
  ParseCrop("224", &p);
  EXPECT_EQ(p.crop_width, 224);
  EXPECT_EQ(p.crop_height, 224);
  EXPECT_EQ(ParseFloatList("0.485, 0.456,0.406", "mean"), (std::vector<float>{0.485f, 0.456f, 0.406f}));
  EXPECT_EQ(ParseLayout("nhwc"), Layout::kNHWC);
  EXPECT_EQ(ParseChannelOrder("BGR"), ChannelOrder::kBGR);
  EXPECT_ERROR_HAS(ParseResize("0", &p), "resize '0'");
  EXPECT_ERROR_HAS(ParseResize("12x", &p), "resize '12x'");
  EXPECT_ERROR_HAS(ParseCrop("-3", &p), "crop '-3'");
  EXPECT_ERROR_HAS(ParseFloatList("1,,2", "mean"), "mean '1,,2'");
  EXPECT_ERROR_HAS(ParseFloatList("1,x", "std"), "std '1,x'");
  EXPECT_ERROR_HAS(ParseLayout("CHW"), "layout 'CHW'");
  EXPECT_ERROR_HAS(ParseChannelOrder("rgba"), "channel order");
  Preprocess bad;
  bad.stddev = {1.f, 0.f, 1.f};
  EXPECT_ERROR_HAS(ValidatePreprocess(bad), "std must not be 0");
  bad = Preprocess{};
  bad.mean = {1, 2};
  EXPECT_ERROR_HAS(ValidatePreprocess(bad), "mean has 2 values");
  bad = Preprocess{};
  bad.resize_shorter = 3;
  bad.resize_width = bad.resize_height = 4;
  EXPECT_ERROR_HAS(ValidatePreprocess(bad), "not both");
  bad = Preprocess{};
  bad.crop_width = 3;
  EXPECT_ERROR_HAS(ValidatePreprocess(bad), "crop needs both");
}

// ---------------------------------------------------------------------------
// IDX

class IdxDatasetTest : public TempDirTest {};

// 3 images of 2x3.
const std::vector<uint8_t> kIdxPixels = {0,   51,  102, 153, 204, 255,  //
                                         255, 0,   0,   0,   0,   51,   //
                                         10,  20,  30,  40,  50,  60};

TEST_F(IdxDatasetTest, PlainAndGzippedWithLabels) {
  WriteBytes(P("img.idx"), Idx(0x08, {3, 2, 3}, kIdxPixels));
  WriteGz(P("img.idx.gz"), Idx(0x08, {3, 2, 3}, kIdxPixels));
  WriteGz(P("lab.gz"), Idx(0x08, {3}, {7, 0, 9}));
  for (const std::string& images : {P("img.idx"), P("img.idx.gz")}) {
    auto ds = OpenDataset({"idx:" + images + "," + P("lab.gz")}, Preprocess{});
    ASSERT_EQ(ds->size(), 3);
    EXPECT_TRUE(ds->has_labels());
    Sample s = ds->Get(0);
    EXPECT_EQ(s.label, 7);
    ASSERT_EQ(s.inputs[0].second.shape(), (Shape{1, 1, 2, 3}));
    EXPECT_FLOAT_EQ(At(s.inputs[0].second, {0, 0, 0, 1}), 0.2f);
    EXPECT_FLOAT_EQ(At(s.inputs[0].second, {0, 0, 1, 2}), 1.0f);
    EXPECT_EQ(ds->Get(2).label, 9);
    EXPECT_FLOAT_EQ(At(ds->Get(2).inputs[0].second, {0, 0, 1, 0}), 40.f / 255);
  }
  // Fashion-MNIST normalisation: (x/255 - 0.2860) / 0.3530.
  Preprocess p;
  p.mean = {0.2860f};
  p.stddev = {0.3530f};
  auto ds = OpenDataset({"idx:" + P("img.idx.gz")}, p);
  EXPECT_FALSE(ds->has_labels());
  Tensor t = ds->Get(1).inputs[0].second;
  EXPECT_NEAR(At(t, {0, 0, 0, 0}), 2.0226629f, 1e-5);   // 255
  EXPECT_NEAR(At(t, {0, 0, 0, 1}), -0.8101983f, 1e-5);  // 0
  EXPECT_EQ(ds->Get(1).label, -1);
  p.layout = Layout::kNHWC;
  EXPECT_EQ(OpenDataset({"idx:" + P("img.idx")}, p)->Get(0).inputs[0].second.shape(), (Shape{1, 2, 3, 1}));
  p.mean = {0.1f, 0.2f, 0.3f};
  p.stddev = {};
  EXPECT_ERROR_HAS(OpenDataset({"idx:" + P("img.idx")}, p), "img.idx", "1 channel");
}

TEST_F(IdxDatasetTest, BadHeadersNameTheFile) {
  auto open = [&](const std::string& name, const std::vector<uint8_t>& bytes) {
    WriteBytes(P(name), bytes);
    OpenDataset({"idx:" + P(name)}, Preprocess{});
  };
  EXPECT_ERROR_HAS(open("magic.idx", {1, 0, 8, 3, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 5}), "magic.idx", "not an IDX");
  EXPECT_ERROR_HAS(open("float.idx", Idx(0x0D, {1, 1, 1}, {0, 0, 0, 0})), "float.idx", "type code 0x0d");
  EXPECT_ERROR_HAS(open("rank.idx", Idx(0x08, {2, 3}, std::vector<uint8_t>(6))), "rank.idx", "2 dimensions",
                   "expected 3");
  EXPECT_ERROR_HAS(open("short.idx", {0, 0}), "short.idx", "too short");
  EXPECT_ERROR_HAS(open("empty.idx", {}), "empty.idx", "too short");
  EXPECT_ERROR_HAS(open("header.idx", {0, 0, 8, 3, 0, 0, 0, 1, 0, 0}), "header.idx", "truncated IDX header");
  std::vector<uint8_t> cut = Idx(0x08, {3, 2, 3}, kIdxPixels);
  cut.resize(cut.size() - 1);
  EXPECT_ERROR_HAS(open("trunc.idx", cut), "trunc.idx", "3x2x3", "need more data");
  // Dims whose product is far beyond the data (and beyond 64 bits): refused, nothing allocated.
  EXPECT_ERROR_HAS(open("huge.idx", Idx(0x08, {0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF}, {1, 2, 3})), "huge.idx",
                   "need more data");
  EXPECT_ERROR_HAS(open("extra.idx", Idx(0x08, {1, 1, 2}, {1, 2, 3})), "extra.idx", "1 extra");
  EXPECT_ERROR_HAS(open("none.idx", Idx(0x08, {0, 28, 28}, {})), "none.idx", "no images");

  WriteBytes(P("ok.idx"), Idx(0x08, {3, 2, 3}, kIdxPixels));
  WriteBytes(P("lab2.idx"), Idx(0x08, {2}, {1, 2}));
  EXPECT_ERROR_HAS(OpenDataset({"idx:" + P("ok.idx") + "," + P("lab2.idx")}, Preprocess{}), "lab2.idx", "2 labels",
                   "3 images");
  WriteBytes(P("lab3.idx"), Idx(0x08, {3, 1}, {1, 2, 3}));
  EXPECT_ERROR_HAS(OpenDataset({"idx:" + P("ok.idx") + "," + P("lab3.idx")}, Preprocess{}), "lab3.idx",
                   "2 dimensions", "expected 1");
  EXPECT_ERROR_HAS(OpenDataset({"idx:" + P("ok.idx") + "," + P("nolabels.idx")}, Preprocess{}), "nolabels.idx",
                   "no such file");
  EXPECT_ERROR_HAS(OpenDataset({"idx:" + P("nothere.idx")}, Preprocess{}), "nothere.idx", "no such file");
  EXPECT_ERROR_HAS(OpenDataset({P("ok.idx")}, Preprocess{}), "ok.idx", "not a dataset");
  WriteBytes(P("train-images-idx3-ubyte"), Idx(0x08, {3, 2, 3}, kIdxPixels));
  EXPECT_ERROR_HAS(OpenDataset({P("train-images-idx3-ubyte")}, Preprocess{}), "looks like an IDX file", "idx:");
}

TEST_F(IdxDatasetTest, BrokenGzip) {
  std::vector<uint8_t> big(5000);
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<uint8_t>((i * 7919) >> 3);
  WriteGz(P("full.gz"), Idx(0x08, {5, 20, 50}, big));
  ASSERT_EQ(OpenDataset({"idx:" + P("full.gz")}, Preprocess{})->size(), 5);
  std::vector<uint8_t> gz = ReadFileBytes(P("full.gz"));

  std::vector<uint8_t> cut(gz.begin(), gz.begin() + gz.size() / 2);
  WriteBytes(P("cut.gz"), cut);
  EXPECT_ERROR_HAS(OpenDataset({"idx:" + P("cut.gz")}, Preprocess{}), "cut.gz", "truncated gzip");

  std::vector<uint8_t> noisy = gz;
  for (size_t i = 20; i < noisy.size() - 10; i += 3) noisy[i] ^= 0x5A;
  WriteBytes(P("noisy.gz"), noisy);
  EXPECT_ERROR_HAS(OpenDataset({"idx:" + P("noisy.gz")}, Preprocess{}), "noisy.gz", "gzip");

  std::vector<uint8_t> crc = gz;
  crc[crc.size() - 6] ^= 1;  // CRC32 of the data
  WriteBytes(P("crc.gz"), crc);
  EXPECT_ERROR_HAS(OpenDataset({"idx:" + P("crc.gz")}, Preprocess{}), "crc.gz", "corrupt gzip");

  std::vector<uint8_t> tail = gz;
  tail.insert(tail.end(), {'j', 'u', 'n', 'k'});
  WriteBytes(P("tail.gz"), tail);
  EXPECT_ERROR_HAS(OpenDataset({"idx:" + P("tail.gz")}, Preprocess{}), "tail.gz", "garbage after");

  // Two gzip members (cat a.gz b.gz) decompress to their concatenation.
  std::vector<uint8_t> whole = Idx(0x08, {5, 20, 50}, big);
  WriteGz(P("m1.gz"), std::vector<uint8_t>(whole.begin(), whole.begin() + 100));
  WriteGz(P("m2.gz"), std::vector<uint8_t>(whole.begin() + 100, whole.end()));
  std::vector<uint8_t> two = ReadFileBytes(P("m1.gz")), m2 = ReadFileBytes(P("m2.gz"));
  two.insert(two.end(), m2.begin(), m2.end());
  EXPECT_EQ(Gunzip(two, "two.gz"), whole);

  // The decompressed-size cap holds whatever the header claims.
  EXPECT_ERROR_HAS(Gunzip(gz, "capped.gz", 1000), "capped.gz", "more than the limit of 1000");
}

TEST(IdxDatasetReal, FashionMnistTestSet) {
  const std::string dir = "/usr/share/datasets/fashion-mnist/";
  const std::string images = dir + "t10k-images-idx3-ubyte.gz", labels = dir + "t10k-labels-idx1-ubyte.gz";
  if (!fs::exists(images) || !fs::exists(labels))
    GTEST_SKIP() << images << " not found (Debian package dataset-fashion-mnist)";
  auto ds = OpenDataset({"idx:" + images + "," + labels}, Preprocess{});
  ASSERT_EQ(ds->size(), 10000);
  // Read from the file with Python's gzip module, not assumed.
  const int64_t first[] = {9, 2, 1, 1, 6, 1, 4, 6, 5, 7, 4, 5, 7, 3, 4, 1, 2, 4, 8, 0};
  for (int i = 0; i < 20; ++i) EXPECT_EQ(ds->Get(i).label, first[i]) << i;
  std::vector<int> per_class(10, 0);
  double sum = 0, sum_sq = 0;
  for (int64_t i = 0; i < ds->size(); ++i) {
    Sample s = ds->Get(i);
    ASSERT_TRUE(s.label >= 0 && s.label < 10);
    ++per_class[s.label];
    const Tensor& t = s.inputs[0].second;
    ASSERT_EQ(t.shape(), (Shape{1, 1, 28, 28}));
    double img_sum = 0;
    for (int64_t k = 0; k < t.numel(); ++k) {
      double v = t.data<float>()[k];
      img_sum += v;
      sum_sq += v * v;
    }
    sum += img_sum;
    if (i == 0) {
      EXPECT_NEAR(img_sum * 255, 33456, 1e-2);
      EXPECT_FLOAT_EQ(*std::max_element(t.data<float>(), t.data<float>() + t.numel()), 1.f);
    }
  }
  for (int c = 0; c < 10; ++c) EXPECT_EQ(per_class[c], 1000) << "class " << c;
  double n = 10000.0 * 784;
  double mean = sum / n, stddev = std::sqrt(sum_sq / n - mean * mean);
  EXPECT_NEAR(mean, 0.286849, 1e-5);
  EXPECT_NEAR(stddev, 0.352444, 1e-5);

  // With the bundled model's normalisation the data is roughly centred.
  Preprocess p;
  p.mean = {0.2860f};
  p.stddev = {0.3530f};
  auto norm = OpenDataset({"idx:" + images + "," + labels}, p);
  Tensor t0 = norm->Get(0).inputs[0].second;
  EXPECT_NEAR(t0.data<float>()[0], -0.2860f / 0.3530f, 1e-6);
  EXPECT_NE(norm->Summary().find("10000 images of 28x28"), std::string::npos) << norm->Summary();
}

// ---------------------------------------------------------------------------
// Progress

std::string ReadAll(std::FILE* f) {
  std::fflush(f);
  std::rewind(f);
  std::string s;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) s.append(buf, n);
  return s;
}

TEST(Progress, TightLoopIsCheapAndRateLimited) {
  std::FILE* f = std::tmpfile();
  ASSERT_NE(f, nullptr);
  Progress::Options o;
  o.mode = Progress::Mode::kBar;
  o.out = f;
  o.first_draw_after_s = 0;
  const int64_t n = 20'000'000;
  auto t0 = std::chrono::steady_clock::now();
  int64_t redraws;
  {
    Progress p("looping", n, o);
    for (int64_t i = 0; i < n; ++i) p.Update(i + 1);
    p.Finish();
    redraws = p.redraws();
  }
  double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_LT(s, 2.0) << "20M updates took " << s << " s";
  EXPECT_LE(redraws, s / 0.1 + 3) << "over " << s << " s";
  std::string out = ReadAll(f);
  std::fclose(f);
  EXPECT_NE(out.find("\r"), std::string::npos);
  EXPECT_NE(out.find("looping"), std::string::npos);
  EXPECT_NE(out.find("20000000/20000000 100%"), std::string::npos) << out;
  EXPECT_EQ(out.back(), '\n');
}

TEST(Progress, RedrawsWhileSlowWork) {
  std::FILE* f = std::tmpfile();
  Progress::Options o;
  o.mode = Progress::Mode::kBar;
  o.out = f;
  o.first_draw_after_s = 0;
  Progress p("slow", 6, o);
  for (int i = 0; i < 5; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(60));
    p.Update(i + 1);
  }
  EXPECT_GE(p.redraws(), 2);
  EXPECT_LE(p.redraws(), 5);
  std::string text = p.StatusText();
  EXPECT_NE(text.find("slow 5/6 83%"), std::string::npos) << text;
  EXPECT_NE(text.find("ETA 0:00"), std::string::npos) << text;
  EXPECT_NE(text.find("/s"), std::string::npos) << text;
  p.Finish();
  std::string out = ReadAll(f);
  std::fclose(f);
  EXPECT_NE(out.find("[#"), std::string::npos) << out;  // a bar fits in 80 columns
}

TEST(Progress, QuickJobsPrintNothingSummaryOtherwise) {
  std::FILE* f = std::tmpfile();
  Progress::Options o;
  o.out = f;
  o.mode = Progress::Mode::kBar;  // default half-second delay
  {
    Progress p("quick", 10, o);
    for (int i = 0; i < 10; ++i) p.Update(i + 1);
  }
  o.mode = Progress::Mode::kSummary;
  {
    Progress p("quick", 10, o);
    p.Update(10);
  }
  o.mode = Progress::Mode::kOff;
  o.summary_after_s = 0;
  {
    Progress p("off", 10, o);
    p.Update(10);
  }
  EXPECT_EQ(ReadAll(f), "");
  o.mode = Progress::Mode::kSummary;
  {
    Progress p("evaluating", 0, o);  // unknown total
    p.Update(7);
  }
  std::string out = ReadAll(f);
  std::fclose(f);
  EXPECT_EQ(out.find('\r'), std::string::npos);
  EXPECT_EQ(out.rfind("evaluating 7 done ", 0), 0u) << out;
  EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 1);
}

TEST(Progress, EndsLineWhenUnwinding) {
  std::FILE* f = std::tmpfile();
  Progress::Options o;
  o.mode = Progress::Mode::kBar;
  o.out = f;
  o.first_draw_after_s = 0;
  try {
    Progress p("failing", 10, o);
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    p.Update(3);
    throw Error("boom");
  } catch (const Error&) {
  }
  std::string out = ReadAll(f);
  std::fclose(f);
  EXPECT_NE(out.find("3/10"), std::string::npos) << out;
  EXPECT_EQ(out.find("10/10"), std::string::npos) << out;
  EXPECT_EQ(out.back(), '\n');
  EXPECT_EQ(FormatDuration(65), "1:05");
  EXPECT_EQ(FormatDuration(3723), "1:02:03");
}

}  // namespace
}  // namespace nibble
