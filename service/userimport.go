package service

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/xuri/excelize/v2"
	"golang.org/x/text/encoding/simplifiedchinese"

	"github.com/wecomflow/wecomflow/models"
	"github.com/wecomflow/wecomflow/problem"
)

// Import columns. userid and wechatwk_userid are required in the header.
var (
	importRequired = []string{"userid", "wechatwk_userid"}
	importColumns  = []string{"userid", "wechatwk_userid", "name", "mobile", "email"}
)

// ImportUsers reads an .xlsx or .csv upload (header row first) and upserts its rows as users with
// source "import". Rows are numbered as the spreadsheet shows them: the header is row 1. A file
// that is neither format, or lacks a required column, is a 422 on "file" and changes nothing.
func (s *Service) ImportUsers(ctx context.Context, filename string, content []byte) (BulkResult, error) {
	rows, err := readTable(filename, content)
	if err != nil {
		return BulkResult{}, problem.Invalidf("file", "%s", err.Error())
	}
	if len(rows) == 0 {
		return BulkResult{}, problem.Invalidf("file", "is empty: the first row must be the header (%s)", strings.Join(importColumns, ", "))
	}
	col := map[string]int{}
	for i, h := range rows[0].cells {
		h = strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")))
		if _, dup := col[h]; !dup && h != "" {
			col[h] = i
		}
	}
	for _, req := range importRequired {
		if _, ok := col[req]; !ok {
			return BulkResult{}, problem.Invalidf("file", "the header row (row 1) must have the columns %s; missing %q", strings.Join(importRequired, " and "), req)
		}
	}
	cell := func(r tableRow, name string) *string {
		i, ok := col[name]
		if !ok || i >= len(r.cells) {
			return nil
		}
		v := strings.TrimSpace(r.cells[i])
		if v == "" {
			return nil
		}
		return &v
	}
	var changes []models.UserChange
	var failed []RowFailure
	for _, r := range rows[1:] {
		if r.blank() {
			continue
		}
		c := models.UserChange{Name: cell(r, "name"), Mobile: cell(r, "mobile"), Email: cell(r, "email"), WeChatWK: cell(r, "wechatwk_userid")}
		if id := cell(r, "userid"); id != nil {
			c.UserID = *id
		}
		if msg := importRowErrors(c); msg != "" {
			row := r.number
			failed = append(failed, RowFailure{Row: &row, UserID: c.UserID, Message: msg})
			continue
		}
		changes = append(changes, c)
	}
	return s.upsert(ctx, "user.import", filename, changes, failed, models.SourceImport)
}

// importRowErrors validates one row and names problems by the spreadsheet's column names.
func importRowErrors(c models.UserChange) string {
	e := problem.Fields{}
	if c.WeChatWK == nil {
		e.Add("wechatwk_userid", "is required")
	}
	validateUserChange(c, userImportPaths, e)
	return e.String()
}

type tableRow struct {
	number int
	cells  []string
}

func (r tableRow) blank() bool {
	for _, c := range r.cells {
		if strings.TrimSpace(c) != "" {
			return false
		}
	}
	return true
}

// readTable picks the format by content, not by name: an .xlsx is a zip archive.
func readTable(filename string, content []byte) ([]tableRow, error) {
	lower := strings.ToLower(filename)
	switch {
	case bytes.HasPrefix(content, []byte("PK\x03\x04")):
		return readXLSX(content)
	case strings.HasSuffix(lower, ".csv") || (!strings.HasSuffix(lower, ".xlsx") && looksLikeText(content)):
		return readCSV(content)
	default:
		return nil, errors.New("must be an .xlsx or .csv file")
	}
}

func looksLikeText(b []byte) bool {
	return len(b) > 0 && !bytes.ContainsRune(b[:min(len(b), 4096)], 0)
}

// maxUnzipped bounds what an .xlsx may expand to, so a small zip bomb cannot exhaust memory.
const maxUnzipped = 200 << 20

func readXLSX(content []byte) ([]tableRow, error) {
	f, err := excelize.OpenReader(bytes.NewReader(content), excelize.Options{UnzipSizeLimit: maxUnzipped, UnzipXMLSizeLimit: maxUnzipped / 2})
	if err != nil {
		return nil, fmt.Errorf("is not a readable .xlsx file: %v", err)
	}
	defer f.Close()
	sheets := f.GetSheetList()
	if len(sheets) == 0 {
		return nil, errors.New("the workbook has no sheet")
	}
	it, err := f.Rows(sheets[0])
	if err != nil {
		return nil, fmt.Errorf("the first sheet cannot be read: %v", err)
	}
	defer it.Close()
	var rows []tableRow
	for n := 1; it.Next(); n++ {
		cells, err := it.Columns()
		if err != nil {
			return nil, fmt.Errorf("row %d cannot be read: %v", n, err)
		}
		rows = append(rows, tableRow{number: n, cells: cells})
	}
	return rows, it.Error()
}

// readCSV reads UTF-8 (with or without BOM) or, as Excel saves CSV on Chinese Windows, GB18030.
func readCSV(content []byte) ([]tableRow, error) {
	content = bytes.TrimPrefix(content, []byte("\xef\xbb\xbf"))
	if !utf8.Valid(content) {
		decoded, err := simplifiedchinese.GB18030.NewDecoder().Bytes(content)
		if err != nil {
			return nil, errors.New("is neither UTF-8 nor GB18030 text")
		}
		content = decoded
	}
	r := csv.NewReader(bytes.NewReader(content))
	r.FieldsPerRecord = -1
	var rows []tableRow
	for {
		rec, err := r.Read()
		if err == io.EOF {
			return rows, nil
		}
		if err != nil {
			return nil, fmt.Errorf("is not valid CSV: %v", err)
		}
		line, _ := r.FieldPos(0)
		rows = append(rows, tableRow{number: line, cells: rec})
	}
}

// ImportTemplate is an empty import file with the header row, as xlsx or csv.
func ImportTemplate(format string) (content []byte, contentType, filename string, err error) {
	switch format {
	case "", "xlsx":
		f := excelize.NewFile()
		defer f.Close()
		sheet := f.GetSheetName(0)
		for i, h := range importColumns {
			name, _ := excelize.CoordinatesToCellName(i+1, 1)
			if err := f.SetCellStr(sheet, name, h); err != nil {
				return nil, "", "", err
			}
		}
		// Text format for every column keeps Excel from turning userids like 007 or mobiles into numbers.
		style, _ := f.NewStyle(&excelize.Style{NumFmt: 49})
		_ = f.SetColStyle(sheet, "A:E", style)
		var buf bytes.Buffer
		if err := f.Write(&buf); err != nil {
			return nil, "", "", err
		}
		return buf.Bytes(), "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "users-template.xlsx", nil
	case "csv":
		return []byte("\ufeff" + strings.Join(importColumns, ",") + "\n"), "text/csv; charset=utf-8", "users-template.csv", nil
	default:
		return nil, "", "", problem.Invalidf("format", "must be xlsx or csv")
	}
}
