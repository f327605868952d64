#include "worker/data/test_images.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <string>

#define STB_IMAGE_WRITE_STATIC
#define STB_IMAGE_WRITE_IMPLEMENTATION
#include <stb/stb_image_write.h>

namespace peftsearch::data::testing {

Image PatternImage(int w, int h, int seed) {
  Image img;
  img.width = w;
  img.height = h;
  img.rgb.resize(static_cast<size_t>(w) * h * 3);
  uint32_t state = static_cast<uint32_t>(seed) * 2654435761u + 1;
  for (size_t i = 0; i < img.rgb.size(); ++i) {
    state = state * 1664525u + 1013904223u;
    img.rgb[i] = static_cast<uint8_t>(state >> 24);
  }
  return img;
}

bool WritePng(const std::string& path, const Image& img, int channels) {
  if (channels == 3) {
    return stbi_write_png(path.c_str(), img.width, img.height, 3, img.rgb.data(),
                          img.width * 3) != 0;
  }
  std::vector<uint8_t> gray(static_cast<size_t>(img.width) * img.height);
  for (size_t i = 0; i < gray.size(); ++i) gray[i] = img.rgb[i * 3];
  return stbi_write_png(path.c_str(), img.width, img.height, 1, gray.data(),
                        img.width) != 0;
}

bool WriteJpg(const std::string& path, const Image& img, int quality) {
  return stbi_write_jpg(path.c_str(), img.width, img.height, 3, img.rgb.data(),
                        quality) != 0;
}

bool WritePnm(const std::string& path, const Image& img, bool gray) {
  FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) return false;
  std::fprintf(f, "%s\n%d %d\n255\n", gray ? "P5" : "P6", img.width, img.height);
  bool ok = true;
  if (gray) {
    for (size_t i = 0; i < img.rgb.size(); i += 3) ok &= std::fputc(img.rgb[i], f) != EOF;
  } else {
    ok = std::fwrite(img.rgb.data(), 1, img.rgb.size(), f) == img.rgb.size();
  }
  return std::fclose(f) == 0 && ok;
}

bool WriteText(const std::string& path, const std::string& text) {
  FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) return false;
  const bool ok = std::fwrite(text.data(), 1, text.size(), f) == text.size();
  return std::fclose(f) == 0 && ok;
}

bool MakeDirs(const std::string& path) {
  for (size_t pos = 1; pos != std::string::npos;) {
    pos = path.find('/', pos + 1);
    const std::string cur = path.substr(0, pos);
    if (::mkdir(cur.c_str(), 0755) != 0 && errno != EEXIST) return false;
  }
  return true;
}

std::string FreshDir(const std::string& name) {
  const char* tmp = std::getenv("TEST_TMPDIR");
  std::string dir = std::string(tmp ? tmp : "/tmp") + "/" + name;
  std::string cmd = "rm -rf '" + dir + "'";
  (void)std::system(cmd.c_str());
  MakeDirs(dir);
  return dir;
}

}  // namespace peftsearch::data::testing
