package server

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/xuri/excelize/v2"
	"golang.org/x/text/encoding/simplifiedchinese"
)

func TestBulkSavesGoodRowsAndReportsBadOnesByIndex(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.must(201, "POST", "/api/v1/users", map[string]any{"userid": "lisi", "name": "李四", "mobile": "13800000000"})
	res := e.must(200, "POST", "/api/v1/users/bulk", `[
		{"userid": "zhangsan", "set": {"wechatwk": "zhangsan", "name": "张三"}},
		{"userid": "lisi", "set": {"wechatwk": "LiSi"}},
		{"userid": "", "set": {"name": "nobody"}},
		{"userid": "wangwu", "set": {"wechatwk": "bad id!"}},
		{"userid": "zhaoliu", "set": {"name": 42}},
		"not an object",
		{"userid": "zhangsan", "set": {"mobile": "13900000000"}}
	]`).Data()
	if res["created"] != 1.0 || res["updated"] != 1.0 {
		t.Fatalf("counts: %v", res)
	}
	failed := res["failed"].([]any)
	want := map[float64]string{2: "userid", 3: "set.wechatwk", 4: "set.name", 5: "must be an object"}
	if len(failed) != len(want) {
		t.Fatalf("failed rows: %v", failed)
	}
	for _, f := range failed {
		f := f.(map[string]any)
		if !strings.Contains(f["message"].(string), want[f["index"].(float64)]) {
			t.Errorf("row %v: message %q", f["index"], f["message"])
		}
	}
	users := e.must(200, "GET", "/api/v1/users?q=zhang", nil).JSON()["data"].([]any)
	zs := users[0].(map[string]any)
	// The repeated userid merged: the name from the first row and the mobile from the last.
	if zs["name"] != "张三" || zs["mobile"] != "13900000000" || zs["bindings"].(map[string]any)["wechatwk"] != "zhangsan" {
		t.Fatalf("zhangsan: %v", zs)
	}
	lisi := e.must(200, "GET", "/api/v1/users?q=lisi", nil).JSON()["data"].([]any)[0].(map[string]any)
	// An update changes only the fields it sets.
	if lisi["mobile"] != "13800000000" || lisi["name"] != "李四" || lisi["bindings"].(map[string]any)["wechatwk"] != "LiSi" {
		t.Fatalf("lisi: %v", lisi)
	}
	if total := e.must(200, "GET", "/api/v1/users", nil).JSON()["total"]; total != 2.0 {
		t.Fatalf("total %v", total)
	}
}

// q is matched literally: LIKE's wildcards in it match only themselves.
func TestUserSearchTakesWildcardsLiterally(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.must(200, "POST", "/api/v1/users/bulk", `[{"userid": "a_b", "set": {"name": "Ann"}}, {"userid": "axb", "set": {"name": "100% Bob"}}, {"userid": "c!d", "set": {}}]`)
	for q, want := range map[string]float64{"a_b": 1, "_": 1, "%": 1, "ANN": 1, "!": 1, "zz": 0, "": 3} {
		if got := e.must(200, "GET", "/api/v1/users?q="+url.QueryEscape(q), nil).JSON()["total"]; got != want {
			t.Errorf("q=%q: total %v, want %v", q, got, want)
		}
	}
	res := e.must(200, "GET", "/api/v1/users?pageSize=1&page=2", nil).JSON()
	if res["total"] != 3.0 || res["page"] != 2.0 || res["pageSize"] != 1.0 || len(res["data"].([]any)) != 1 {
		t.Errorf("paging: %v", res)
	}
	if got := e.must(200, "GET", "/api/v1/users?pageSize=1000", nil).JSON()["pageSize"]; got != 200.0 {
		t.Errorf("pageSize is capped at 200, got %v", got)
	}
}

func xlsxFile(t testing.TB, rows [][]any) []byte {
	t.Helper()
	f := excelize.NewFile()
	defer f.Close()
	for i, r := range rows {
		cell, _ := excelize.CoordinatesToCellName(1, i+1)
		if err := f.SetSheetRow("Sheet1", cell, &r); err != nil {
			t.Fatal(err)
		}
	}
	var buf bytes.Buffer
	if err := f.Write(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestImportReportsBadRowsBySpreadsheetRowNumber(t *testing.T) {
	t.Parallel()
	csvUTF8 := "\ufeffUserID,wechatwk_userid,name,mobile\nzhangsan,zhangsan,张三,13800000000\n,nobody,无名,\n\nlisi,li si,李四,\nwangwu,wangwu,王五,\n"
	gbk, err := simplifiedchinese.GB18030.NewEncoder().String(strings.TrimPrefix(csvUTF8, "\ufeff"))
	if err != nil {
		t.Fatal(err)
	}
	xlsx := xlsxFile(t, [][]any{
		{"userid", "wechatwk_userid", "name", "mobile"},
		{"zhangsan", "zhangsan", "张三", 13800000000},
		{"", "nobody", "无名"},
		{},
		{"lisi", "li si", "李四"},
		{"wangwu", "wangwu", "王五"},
	})
	for _, c := range []struct {
		name     string
		filename string
		content  []byte
	}{
		{"csv utf-8 with BOM", "users.csv", []byte(csvUTF8)},
		{"csv gb18030 as saved by Excel", "users.csv", []byte(gbk)},
		{"xlsx", "users.xlsx", xlsx},
		{"xlsx with a misleading name", "users.bin", xlsx},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			res := e.upload("/api/v1/users/import", c.filename, c.content)
			if res.Status != 200 {
				t.Fatalf("%d %s", res.Status, res.Body)
			}
			d := res.Data()
			failed := d["failed"].([]any)
			if d["created"] != 2.0 || len(failed) != 2 {
				t.Fatalf("result %s", res.Body)
			}
			// Row 1 is the header, row 4 is blank: the bad rows are 3 and 5.
			if f := failed[0].(map[string]any); f["row"] != 3.0 || !strings.Contains(f["message"].(string), "userid") {
				t.Errorf("first failure %v", f)
			}
			if f := failed[1].(map[string]any); f["row"] != 5.0 || !strings.Contains(f["message"].(string), "wechatwk_userid") {
				t.Errorf("second failure %v", f)
			}
			u := e.must(200, "GET", "/api/v1/users?q=zhangsan", nil).JSON()["data"].([]any)[0].(map[string]any)
			if u["name"] != "张三" || u["mobile"] != "13800000000" || u["source"] != "import" {
				t.Errorf("imported user %v", u)
			}
		})
	}
}

func TestImportRefusesFilesThatAreNotSpreadsheets(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	before := e.snapshot()
	for name, c := range map[string]struct {
		filename string
		content  []byte
	}{
		"binary":          {"photo.png", []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")},
		"corrupt xlsx":    {"users.xlsx", []byte("PK\x03\x04 not really a zip")},
		"missing column":  {"users.csv", []byte("userid,name\nzhangsan,张三\n")},
		"empty":           {"users.csv", []byte("")},
		"pdf named .xlsx": {"users.xlsx", []byte("%PDF-1.4 \x00")},
	} {
		res := e.upload("/api/v1/users/import", c.filename, c.content)
		if res.Status != 422 || res.Fields()["file"] == nil {
			t.Errorf("%s: %d %s", name, res.Status, res.Body)
		}
	}
	if res := e.raw("POST", "/api/v1/users/import", "application/json", strings.NewReader(`{}`), e.token); res.Status != 422 || res.Fields()["file"] == nil {
		t.Errorf("no file: %d %s", res.Status, res.Body)
	}
	if e.snapshot() != before {
		t.Fatal("a refused import changed stored data")
	}
}

func TestImportTemplatesImportAsIs(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for _, format := range []string{"xlsx", "csv"} {
		res := e.must(200, "GET", "/api/v1/users/import/template?format="+format, nil)
		if !strings.Contains(res.Header.Get("Content-Disposition"), "users-template."+format) {
			t.Fatalf("%s: disposition %q", format, res.Header.Get("Content-Disposition"))
		}
		// The empty template is a valid file with the right header: importing it does nothing.
		up := e.upload("/api/v1/users/import", "t."+format, res.Body)
		if up.Status != 200 || up.Data()["created"] != 0.0 || len(up.Data()["failed"].([]any)) != 0 {
			t.Fatalf("%s template import: %d %s", format, up.Status, up.Body)
		}
	}
}

// 50 uploads at once, overlapping on half their userids, leave each userid once and lose no row.
func TestConcurrentOverlappingBulkUploads(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	const uploads, perUpload = 50, 40
	var wg sync.WaitGroup
	errs := make(chan string, uploads)
	for i := 0; i < uploads; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			var rows []map[string]any
			for j := 0; j < perUpload; j++ {
				// Half shared by every upload, half its own.
				id := fmt.Sprintf("shared%03d", j)
				set := map[string]any{"wechatwk": id}
				if j%2 == 1 {
					id = fmt.Sprintf("own%02d_%03d", i, j)
					set = map[string]any{"wechatwk": id, "name": id}
				} else {
					set[[]string{"name", "mobile", "email"}[i%3]] = map[int]string{0: "n", 1: "1380000", 2: "a@b.c"}[i%3]
				}
				rows = append(rows, map[string]any{"userid": id, "set": set})
			}
			res := e.do("POST", "/api/v1/users/bulk", rows)
			if res.Status != 200 || len(res.Data()["failed"].([]any)) != 0 {
				errs <- fmt.Sprintf("upload %d: %d %s", i, res.Status, res.Body)
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	for msg := range errs {
		t.Error(msg)
	}
	var total, distinct int64
	e.store.Read.Raw("SELECT COUNT(*) FROM users").Scan(&total)
	e.store.Read.Raw("SELECT COUNT(DISTINCT userid) FROM users").Scan(&distinct)
	want := int64(perUpload/2 + uploads*perUpload/2)
	if total != want || distinct != want {
		t.Fatalf("users: %d rows, %d distinct, want %d", total, distinct, want)
	}
	// No upload blanked a field another upload set on a shared user.
	var incomplete int64
	e.store.Read.Raw("SELECT COUNT(*) FROM users WHERE userid LIKE 'shared%' AND (name = '' OR mobile = '' OR email = '' OR wechatwk = '')").Scan(&incomplete)
	if incomplete != 0 {
		t.Fatalf("%d shared users lost a field set by another upload", incomplete)
	}
}

// BenchmarkBulkUpsert10000 upserts 10,000 users in one users/bulk request, through the HTTP
// handler, the service and the store: the path a unified messaging service's sync takes.
// Each iteration alternates between creating and updating all 10,000.
func BenchmarkBulkUpsert10000(b *testing.B) {
	e := newEnv(b)
	bodies := make([][]byte, 2)
	for v := range bodies {
		rows := make([]map[string]any, 10000)
		for i := range rows {
			id := fmt.Sprintf("user%05d", i)
			rows[i] = map[string]any{"userid": id, "set": map[string]any{"wechatwk": id, "name": fmt.Sprintf("用户%05d v%d", i, v)}}
		}
		bodies[v], _ = json.Marshal(rows)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		req := httptest.NewRequest("POST", "/api/v1/users/bulk", bytes.NewReader(bodies[i%2]))
		req.Header.Set("Authorization", "Bearer "+e.token)
		w := httptest.NewRecorder()
		e.srv.Handler().ServeHTTP(w, req)
		if w.Code != http.StatusOK {
			b.Fatalf("%d %s", w.Code, w.Body)
		}
	}
}

// A userid or name with a control character, a direction override or bytes that are not UTF-8 is
// a 422 naming the field, in every way users are written — never stored, and never silently
// "repaired" so that two different inputs become one user.
func TestUserTextRefusesHiddenAndBrokenCharacters(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for name, c := range map[string]struct{ body, field string }{
		"NUL in a userid":           {`{"userid": "ab\u0000cd"}`, "userid"},
		"override in a userid":      {`{"userid": "gpj\u202Eexe"}`, "userid"},
		"zero-width in a userid":    {`{"userid": "zhang\u200Bsan"}`, "userid"},
		"not UTF-8 in a userid":     {"{\"userid\": \"caf\xe9\"}", "userid"},
		"override in a name":        {`{"userid": "ok1", "name": "\u202E三张"}`, "name"},
		"escape in a name":          {`{"userid": "ok2", "name": "a\u001b[31mred"}`, "name"},
		"not UTF-8 in a name":       {"{\"userid\": \"ok3\", \"name\": \"\xff\"}", "name"},
		"not UTF-8 in a bulk row":   {"[{\"userid\": \"ok4\", \"set\": {\"name\": \"\xc3\x28\"}}]", "[0].set.name"},
		"override in a bulk userid": {`[{"userid": "x\u202Ey", "set": {"name": "x"}}]`, "userid"},
	} {
		path := "/api/v1/users"
		if strings.HasPrefix(c.body, "[") {
			path += "/bulk"
		}
		res := e.do("POST", path, c.body)
		switch {
		case res.Status == 422 && res.Fields()[c.field] != nil:
		case res.Status == 200 && strings.Contains(string(res.Body), `"failed":[{"index":0`) && strings.Contains(string(res.Body), c.field):
		default:
			t.Errorf("%s: %d %s", name, res.Status, res.Body)
		}
	}
	if n := len(e.must(200, "GET", "/api/v1/users", nil).JSON()["data"].([]any)); n != 0 {
		t.Errorf("%d users were stored", n)
	}
	// The same through the page's form.
	w := e.webLogin()
	if res := w.post("/ui/users", url.Values{"userid": {"gpj\u202Eexe"}, "name": {"x"}}); res.Status != 422 {
		t.Errorf("the page took a userid with an override: %d", res.Status)
	}
}
