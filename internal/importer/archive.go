package importer

import (
	"archive/zip"
	"bufio"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"path"
	"sort"
	"strings"
)

// Limits on what an archive may expand to: official rate files are a few
// megabytes; these keep a hostile archive from filling memory.
const (
	maxArchiveBytes = 512 << 20 // a .zip, read into memory (zip needs random access)
	maxEntryBytes   = 4 << 30   // one expanded member (zip entry or .gz), streamed
	maxEntries      = 200       // data files in one .zip
)

// expandFiles opens archives: a gzip stream (by its magic bytes) is read
// through gzip, its name losing ".gz"; a zip archive (by its magic bytes)
// is replaced by the data files inside it, in name order, each named
// "archive.zip:member.csv". Directories, hidden files ("." or "__MACOSX/")
// and documents (.pdf, .xlsx, .html, ...) are skipped; an archive with no
// data file is an error.
func expandFiles(files []File) ([]File, error) {
	var out []File
	for _, f := range files {
		br := bufio.NewReaderSize(f.R, 64<<10)
		magic, _ := br.Peek(4)
		switch {
		case len(magic) >= 2 && magic[0] == 0x1f && magic[1] == 0x8b:
			zr, err := gzip.NewReader(br)
			if err != nil {
				return nil, &Error{File: f.Name, Err: fmt.Errorf("not a valid gzip file: %v", err)}
			}
			zr.Multistream(true)
			name := strings.TrimSuffix(strings.TrimSuffix(f.Name, ".gz"), ".GZ")
			out = append(out, File{Name: name, R: &limitedReader{r: zr, n: maxEntryBytes}})
		case bytes.Equal(magic, []byte("PK\x03\x04")) || bytes.Equal(magic, []byte("PK\x05\x06")):
			inner, err := zipMembers(f.Name, br)
			if err != nil {
				return nil, err
			}
			out = append(out, inner...)
		default:
			out = append(out, File{Name: f.Name, R: br})
		}
	}
	return out, nil
}

func zipMembers(name string, r io.Reader) ([]File, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxArchiveBytes+1))
	if err != nil {
		return nil, &Error{File: name, Err: err}
	}
	if len(data) > maxArchiveBytes {
		return nil, &Error{File: name, Err: fmt.Errorf("zip archive is larger than %d MiB", maxArchiveBytes>>20)}
	}
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return nil, &Error{File: name, Err: fmt.Errorf("not a valid zip archive: %v", err)}
	}
	var members []*zip.File
	for _, zf := range zr.File {
		base := path.Base(zf.Name)
		if zf.FileInfo().IsDir() || strings.HasPrefix(base, ".") || strings.HasPrefix(zf.Name, "__MACOSX/") ||
			notData[strings.ToLower(path.Ext(base))] {
			continue
		}
		members = append(members, zf)
	}
	if len(members) == 0 {
		return nil, &Error{File: name, Err: errors.New("the zip archive holds no data file")}
	}
	if len(members) > maxEntries {
		return nil, &Error{File: name, Err: fmt.Errorf("the zip archive holds %d files, more than %d", len(members), maxEntries)}
	}
	sort.Slice(members, func(a, b int) bool { return members[a].Name < members[b].Name })
	var out []File
	for _, zf := range members {
		member := name + ":" + zf.Name
		inner := File{Name: member, R: &zipMember{zf: zf, name: member}}
		if low := strings.ToLower(zf.Name); strings.HasSuffix(low, ".gz") || strings.HasSuffix(low, ".zip") {
			nested, err := expandFiles([]File{inner})
			if err != nil {
				return nil, err
			}
			out = append(out, nested...)
			continue
		}
		out = append(out, inner)
	}
	return out, nil
}

// zipMember streams one member of a zip archive, opened on first read;
// a damaged member fails with its name (Import writes nothing then).
type zipMember struct {
	zf   *zip.File
	name string
	r    io.Reader
	rc   io.ReadCloser
}

func (m *zipMember) Read(p []byte) (int, error) {
	if m.r == nil {
		rc, err := m.zf.Open()
		if err != nil {
			return 0, fmt.Errorf("cannot read from the zip archive: %v", err)
		}
		m.rc = rc
		m.r = &limitedReader{r: rc, n: maxEntryBytes}
	}
	n, err := m.r.Read(p)
	if err == io.EOF {
		m.rc.Close()
	} else if err != nil {
		err = fmt.Errorf("cannot read from the zip archive: %v", err)
	}
	return n, err
}

// notData are the extensions of files archives carry beside the data
// (read-me files, layouts): skipped.
var notData = map[string]bool{
	".pdf": true, ".doc": true, ".docx": true, ".xls": true, ".xlsx": true, ".htm": true, ".html": true,
	".md": true, ".rtf": true, ".xml": true, ".png": true, ".jpg": true,
}

// limitedReader fails (rather than truncating silently) past n bytes.
type limitedReader struct {
	r io.Reader
	n int64
}

func (l *limitedReader) Read(p []byte) (int, error) {
	if l.n <= 0 {
		return 0, fmt.Errorf("expands to more than %d MiB", maxEntryBytes>>20)
	}
	if int64(len(p)) > l.n {
		p = p[:l.n]
	}
	n, err := l.r.Read(p)
	l.n -= int64(n)
	return n, err
}
