// Test-only helpers: write small images and NOAH-layout tasks to disk.
#ifndef PEFTSEARCH_WORKER_DATA_TEST_IMAGES_H_
#define PEFTSEARCH_WORKER_DATA_TEST_IMAGES_H_

#include <cstdint>
#include <string>
#include <vector>

#include "worker/data/image.h"

namespace peftsearch::data::testing {

// A w x h RGB image whose pixels are a deterministic function of `seed`.
Image PatternImage(int w, int h, int seed);

// Writers; each returns false on failure. `channels` 1 writes grayscale from
// the red channel.
bool WritePng(const std::string& path, const Image& img, int channels = 3);
bool WriteJpg(const std::string& path, const Image& img, int quality = 95);
bool WritePnm(const std::string& path, const Image& img, bool gray);  // P5/P6
bool WriteText(const std::string& path, const std::string& text);

// Makes a fresh empty directory under $TEST_TMPDIR and returns its path.
std::string FreshDir(const std::string& name);

// mkdir -p.
bool MakeDirs(const std::string& path);

}  // namespace peftsearch::data::testing

#endif  // PEFTSEARCH_WORKER_DATA_TEST_IMAGES_H_
