package wecomtest_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/wecomflow/wecomflow/plugin/wecom/wecomtest"
)

// A test points the product's WeCom base URL at the simulator, lets it send, and then looks at
// what reached each member's phone.
func Example() {
	sim := wecomtest.New(wecomtest.Options{Seed: 1})
	demo := wecomtest.SeedDemo(sim)
	srv := httptest.NewServer(sim)
	defer srv.Close()

	var tok struct {
		AccessToken string `json:"access_token"`
	}
	resp, _ := http.Get(srv.URL + "/cgi-bin/gettoken?corpid=" + demo.CorpID + "&corpsecret=" + demo.Secret)
	_ = json.NewDecoder(resp.Body).Decode(&tok)
	resp.Body.Close()

	body := `{"touser":"zhangsan|nobody","msgtype":"text","agentid":1000002,"text":{"content":"服务器已重启"}}`
	resp, _ = http.Post(srv.URL+"/cgi-bin/message/send?access_token="+tok.AccessToken, "application/json", strings.NewReader(body))
	var answer struct {
		ErrCode     int    `json:"errcode"`
		InvalidUser string `json:"invaliduser"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&answer)
	resp.Body.Close()

	fmt.Println(answer.ErrCode, answer.InvalidUser)
	for _, d := range sim.Inbox(demo.CorpID, "zhangsan") {
		fmt.Println(d.MsgType, string(d.Body))
	}
	// Output:
	// 0 nobody
	// text {"content":"服务器已重启"}
}

// A sign-in test skips the pages: it mints the code a member's scan would have produced and hands
// it to the product's callback, which trades it for the userid, once.
func ExampleServer_IssueLoginCode() {
	sim := wecomtest.New(wecomtest.Options{Seed: 1})
	demo := wecomtest.SeedDemo(sim)
	srv := httptest.NewServer(sim)
	defer srv.Close()

	code := sim.IssueLoginCode(demo.CorpID, demo.AgentID, "zhangsan")

	var tok struct {
		AccessToken string `json:"access_token"`
	}
	resp, _ := http.Get(srv.URL + "/cgi-bin/gettoken?corpid=" + demo.CorpID + "&corpsecret=" + demo.Secret)
	_ = json.NewDecoder(resp.Body).Decode(&tok)
	resp.Body.Close()
	for range 2 {
		resp, _ = http.Get(srv.URL + "/cgi-bin/auth/getuserinfo?access_token=" + tok.AccessToken + "&code=" + code)
		var answer struct {
			ErrCode int    `json:"errcode"`
			UserID  string `json:"userid"`
		}
		_ = json.NewDecoder(resp.Body).Decode(&answer)
		resp.Body.Close()
		fmt.Printf("%d %q\n", answer.ErrCode, answer.UserID)
	}
	// Output:
	// 0 "zhangsan"
	// 40029 ""
}
