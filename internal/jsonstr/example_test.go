package jsonstr_test

import (
	"fmt"

	"github.com/stoaproject/stoa/internal/jsonstr"
)

func ExampleAppend() {
	fmt.Println(string(jsonstr.Append(nil, "<b>\"hi\"</b>\n", true)))
	fmt.Println(string(jsonstr.Append(nil, "<b>\"hi\"</b>\n", false)))
	// Output:
	// "\u003cb\u003e\"hi\"\u003c/b\u003e\n"
	// "<b>\"hi\"</b>\n"
}
